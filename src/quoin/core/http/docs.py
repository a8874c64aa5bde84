"""The documentation concern: the OpenAPI document, the offline docs page, static files and page templates."""

from __future__ import annotations

from pathlib import Path

from litestar.config.app import AppConfig
from litestar.config.compression import CompressionConfig
from litestar.datastructures import CacheControlHeader
from litestar.middleware import DefineMiddleware
from litestar.middleware.compression import CompressionMiddleware
from litestar.plugins import InitPluginProtocol
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from quoin.core.http.openapi import (
    STATIC_PREFIX,
    add_openapi_correction,
    corrected_openapi,
    declare_closed_schemas,
    describe_schemas,
    docs_page,
    drop_generated_error_responses,
    openapi_config,
)
from quoin.core.http.routes import PUBLIC

__all__ = ["DocsPlugin"]

_PACKAGE_DIR = Path(__file__).resolve().parents[2]  # src/quoin: static/ and templates/
_A_YEAR = 365 * 24 * 3600


class DocsPlugin(InitPluginProtocol):
    """OpenAPI 3.1 with Scalar served from local files; list it first, so other plugins can add to the document."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Set the OpenAPI config, the docs page, the static files and the templates."""
        app_config.openapi_config = openapi_config()
        add_openapi_correction(app_config, drop_generated_error_responses)
        add_openapi_correction(app_config, declare_closed_schemas)
        add_openapi_correction(app_config, describe_schemas)
        app_config.on_startup.append(corrected_openapi)
        app_config.route_handlers += [
            docs_page,
            create_static_files_router(
                STATIC_PREFIX,
                directories=[_PACKAGE_DIR / "static"],
                include_in_schema=False,
                opt=PUBLIC,
                cache_control=CacheControlHeader(max_age=_A_YEAR, public=True, immutable=True),
                # Compressed here only: the docs script is ~5 MB; API answers stay uncompressed (CPU per request).
                middleware=[DefineMiddleware(CompressionMiddleware, config=CompressionConfig(backend="gzip"))],
            ),
        ]
        app_config.template_config = TemplateConfig(
            directory=_PACKAGE_DIR / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=lambda engine: engine.engine.globals.update(static=STATIC_PREFIX),
        )
        return app_config
