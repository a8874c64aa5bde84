"""The OpenAPI document, the offline Scalar docs page, and problem-details response specs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, get
from litestar.config.app import AppConfig
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, Contact, License, OpenAPI, Operation

from quoin import __version__
from quoin.core.http.routes import PUBLIC

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "FieldProblem",
    "Problem",
    "declare_closed_schemas",
    "docs_page",
    "drop_generated_error_responses",
    "openapi_config",
    "problem_responses",
]

# Versioned: a release serves its assets under new paths, so browsers may keep each one for a year.
STATIC_PREFIX = f"/static/{__version__}"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_docs_renderer = ScalarRenderPlugin(
    path="/scalar",
    # Served from the app itself so the page works with no internet access.
    js_url=f"{STATIC_PREFIX}/vendor/scalar/standalone.js",
    css_url=f"{STATIC_PREFIX}/css/scalar.css",
    favicon=f"<link rel='icon' type='image/svg+xml' href='{STATIC_PREFIX}/favicon.svg'>",
    # Nothing on the page may call out: no web fonts, telemetry, AI agent or MCP links.
    options={
        "withDefaultFonts": False,
        "telemetry": False,
        "agent": {"disabled": True},
        "mcp": {"disabled": True},
        "hideClientButton": True,
        "showDeveloperTools": "never",
    },
)


class FieldProblem(msgspec.Struct):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True):
    """RFC 9457 problem details, as every error response carries them."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[FieldProblem] | msgspec.UnsetType = msgspec.UNSET


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI response entries for the error statuses an operation can answer with."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=HTTPStatus(status).phrase,
            generate_examples=False,
        )
        for status in statuses
    }


def _not_found_as_problem(response: Response[Any]) -> Response[Any]:
    """``after_request`` of the schema routes: Litestar answers an unknown ``/schema/…`` page with an HTML 404.

    Raising instead hands it to the problem-details handler, like every other 404.
    """
    if response.status_code == HTTPStatus.NOT_FOUND:
        raise NotFoundException
    return response


def openapi_config() -> OpenAPIConfig:
    """OpenAPI 3.1 at ``/schema/openapi.json``; Scalar at ``/schema`` and ``/docs``."""
    return OpenAPIConfig(
        title="QuoinAPI",
        version=__version__,
        description="A production-grade REST API template. Errors are RFC 9457 problem details.",
        contact=Contact(name="QuoinAPI maintainers"),
        license=License(name="MIT", identifier="MIT"),
        # Litestar adds the document, the docs page and its catch-all 404 page to this router.
        openapi_router=Router(
            "/schema", route_handlers=[], include_in_schema=False, after_request=_not_found_as_problem
        ),
        render_plugins=[_docs_renderer],
        use_handler_docstrings=True,
        components=Components(),
    )


OpenAPICorrection = Callable[[Litestar], None]
_CORRECTIONS_STATE_KEY = "quoin.openapi_corrections"
_CORRECTED_STATE_KEY = "quoin.openapi_corrected"


def add_openapi_correction(app_config: AppConfig, correction: OpenAPICorrection) -> None:
    """Have ``correction`` applied to Litestar's document before it is served or exported (``corrected_openapi``)."""
    app_config.state[_CORRECTIONS_STATE_KEY] = [*app_config.state.get(_CORRECTIONS_STATE_KEY, ()), correction]


def corrected_openapi(app: Litestar) -> OpenAPI:
    """Litestar's document with every registered correction applied, once: what is served and what is exported.

    Litestar has no hook after it builds the document, so the app's start-up
    applies the corrections and so does ``quoin schema openapi``, which never
    starts the app: both read the same document.
    """
    if not app.state.get(_CORRECTED_STATE_KEY):
        for correction in app.state.get(_CORRECTIONS_STATE_KEY, ()):
            correction(app)
        app.state[_CORRECTED_STATE_KEY] = True
    return app.openapi_schema


def drop_generated_error_responses(app: Litestar) -> None:
    """Remove the error responses Litestar adds on its own (a 400 for every handler with parameters).

    Each operation lists the problem-details statuses it really answers with
    (``problem_responses``); a generated 400 with a non-problem schema would
    document a response the API never sends.
    """
    for path_item in (app.openapi_schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(path_item, method)
            if operation is None or not operation.responses:
                continue
            for status, response in list(operation.responses.items()):
                content = getattr(response, "content", None) or {}
                if status.startswith(("4", "5")) and PROBLEM_MEDIA_TYPE not in content:
                    del operation.responses[status]


def _struct_classes(base: type[msgspec.Struct] = msgspec.Struct) -> Iterator[type[msgspec.Struct]]:
    for subclass in base.__subclasses__():
        yield subclass
        yield from _struct_classes(subclass)


def declare_closed_schemas(app: Litestar) -> None:
    """Mark the schemas of Structs that refuse unknown fields with ``additionalProperties: false``.

    Litestar documents every object as open; clients (and schema-driven
    fuzzers) would then send extra fields the API answers with 422.
    """
    components = app.openapi_schema.components
    schemas = (components.schemas if components else None) or {}
    strict = {cls.__name__ for cls in _struct_classes() if cls.__struct_config__.forbid_unknown_fields}
    for name, schema in schemas.items():
        if name in strict:
            schema.additional_properties = False


@get("/docs", include_in_schema=False, media_type=MediaType.HTML, sync_to_thread=False, opt=PUBLIC)  # public
def docs_page(request: Request[Any, Any, Any]) -> bytes:
    """The Scalar API reference, rendered offline."""
    return _docs_renderer.render(request, corrected_openapi(request.app).to_schema())
