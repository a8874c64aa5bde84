"""The application factory: plugins, middleware and routers; nothing else."""

from __future__ import annotations

from pathlib import Path

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, Router
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from quoin.config import Settings
from quoin.core.logging import structlog_plugin
from quoin.core.openapi import STATIC_PREFIX, docs_page, drop_generated_error_responses, openapi_config
from quoin.core.passwords import Passwords
from quoin.core.problem_details import problem_details_plugin
from quoin.core.request_id import RequestIdMiddleware, add_request_id_header
from quoin.db.config import sqlalchemy_config
from quoin.modules import API_V1_ROUTES
from quoin.modules.system.controller import HealthController, landing_page

__all__ = ["create_app"]

_PACKAGE_DIR = Path(__file__).parent


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the QuoinAPI application from ``settings`` (read from the environment by default)."""
    settings = settings or Settings.from_env()
    passwords = Passwords(settings.passwords)
    return Litestar(
        route_handlers=[
            Router("/api/v1", route_handlers=API_V1_ROUTES),
            HealthController,
            landing_page,
            docs_page,
            create_static_files_router(STATIC_PREFIX, directories=[_PACKAGE_DIR / "static"], include_in_schema=False),
        ],
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "passwords": Provide(lambda: passwords, use_cache=True, sync_to_thread=False),
        },
        plugins=[
            SQLAlchemyPlugin(config=sqlalchemy_config(settings.db)),
            problem_details_plugin(),
            structlog_plugin(settings.app),
        ],
        middleware=[RequestIdMiddleware()],
        before_send=[add_request_id_header],
        openapi_config=openapi_config(),
        on_startup=[drop_generated_error_responses],
        template_config=TemplateConfig(directory=_PACKAGE_DIR / "templates", engine=JinjaTemplateEngine),
        request_max_body_size=settings.app.request_max_body_size,
        debug=settings.app.debug,
    )
