"""The OpenAPI document, the offline Scalar docs page, and problem-details response specs."""

from __future__ import annotations

import inspect
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
from litestar.openapi.spec import (
    Components,
    Contact,
    License,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from quoin import __version__
from quoin.core.http.routes import OPERATIONAL_PATH_PREFIXES, PUBLIC

__all__ = [
    "API_PATH_PREFIX",
    "ERROR_DESCRIPTIONS",
    "PROBLEM_MEDIA_TYPE",
    "STATIC_PREFIX",
    "FieldProblem",
    "OpenAPICorrection",
    "Problem",
    "add_openapi_correction",
    "corrected_openapi",
    "declare_closed_schemas",
    "describe_schemas",
    "docs_page",
    "document_common_errors",
    "document_response_headers",
    "drop_generated_error_responses",
    "openapi_config",
    "problem_responses",
]

# Versioned: a release serves its assets under new paths, so browsers may keep each one for a year.
STATIC_PREFIX = f"/static/{__version__}"
API_PATH_PREFIX = "/api/"
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


# When each error happens, as the docs page says it under every operation that answers with it.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not valid JSON (or not UTF-8, or nested too deeply), or an empty body where one is needed.",
    401: "No credentials, or a token or key that is invalid, expired, revoked or whose user is deactivated.",
    403: "The caller may not do this (not a superuser, or not the account concerned).",
    404: "No such resource, or not one the caller may see.",
    409: "A unique value is taken (an email already registered).",
    413: "The body is larger than REQUEST_MAX_BODY_SIZE.",
    415: "The body is sent with another Content-Type than the operation reads.",
    422: "Well-formed JSON or query parameters that break the contract; `errors` names each field.",
    429: "Over the rate limit; retry after `Retry-After` seconds.",
    500: "An unexpected error; its trace is logged with the request id, never sent.",
    503: "The database is unavailable or busy (or the instance is shutting down); retry after `Retry-After` seconds.",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI response entries for the error statuses an operation can answer with, each saying when."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            description=ERROR_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
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


_REQUEST_ID = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.STRING), description="The request's id: the caller's `X-Request-ID`, or a new one."
)
_INTEGER = Schema(type=OpenAPIType.INTEGER)
_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": OpenAPIHeader(schema=_INTEGER, description="Requests allowed per window."),
    "RateLimit-Remaining": OpenAPIHeader(schema=_INTEGER, description="Requests left in the current window."),
    "RateLimit-Reset": OpenAPIHeader(schema=_INTEGER, description="Seconds until the window resets."),
}
_STATUS_HEADERS = {
    "401": {"WWW-Authenticate": OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING), description="`Bearer`.")},
    "429": {"Retry-After": OpenAPIHeader(schema=_INTEGER, description="Seconds to wait before retrying.")},
    "503": {"Retry-After": OpenAPIHeader(schema=_INTEGER, description="Seconds to wait before retrying.")},
}


def document_common_errors(app: Litestar) -> None:
    """Add the errors every API operation can answer with, so a handler lists only its own (403, 404, 409 …).

    Any API operation: 429 (rate limit), 500, 503 (database). A protected one
    (it has a ``security`` requirement): 401. One with a body: 400, 413, 415,
    422. One with query parameters: 422. Run after the operations' security
    is set (``quoin.auth.openapi.document_operation_security``).
    """
    problem = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
    for path, path_item in (app.openapi_schema.paths or {}).items():
        if not path.startswith(API_PATH_PREFIX):
            continue
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(path_item, method)
            if operation is None:
                continue
            statuses = {429, 500, 503}
            if operation.security:
                statuses.add(401)
            if operation.request_body is not None:
                statuses |= {400, 413, 415, 422}
            if any(getattr(parameter, "param_in", None) == "query" for parameter in operation.parameters or ()):
                statuses.add(422)
            responses = dict(operation.responses or {})
            for status in statuses:
                responses.setdefault(
                    str(status),
                    OpenAPIResponse(description=ERROR_DESCRIPTIONS[status], content={PROBLEM_MEDIA_TYPE: problem}),
                )
            operation.responses = dict(sorted(responses.items()))


def document_response_headers(app: Litestar) -> None:
    """Document the headers answers carry.

    ``X-Request-ID`` on all, ``RateLimit-*`` on the API's, the
    ``WWW-Authenticate`` of a 401 and the ``Retry-After`` of a 429 or 503.
    """
    for path, path_item in (app.openapi_schema.paths or {}).items():
        limited = not path.startswith(OPERATIONAL_PATH_PREFIXES)
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(path_item, method)
            for status, response in ((operation.responses or {}) if operation else {}).items():
                if not isinstance(response, OpenAPIResponse):
                    continue
                headers = dict(response.headers or {})
                headers["X-Request-ID"] = _REQUEST_ID
                if limited:
                    headers.update(_RATE_LIMIT_HEADERS)
                headers.update(_STATUS_HEADERS.get(status, {}))
                response.headers = headers


def describe_schemas(app: Litestar) -> None:
    """Give each component schema of a Struct the first paragraph of its docstring as its description."""
    components = app.openapi_schema.components
    schemas = (components.schemas if components else None) or {}
    documented = {cls.__name__: inspect.getdoc(cls) for cls in _struct_classes()}
    for name, schema in schemas.items():
        # A generic Struct's component is named for its use (UserPage); its title names the Struct (Page[UserRead]).
        doc = documented.get(name) or documented.get((schema.title or "").split("[", 1)[0])
        if not schema.description and doc:
            schema.description = doc.split("\n\n", 1)[0].replace("\n", " ")


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
