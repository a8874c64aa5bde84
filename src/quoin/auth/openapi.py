"""Which credentials each operation takes, stated in the OpenAPI document."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import Operation, SecurityRequirement
from litestar.routes import HTTPRoute

from quoin.core.http.routes import PUBLIC_OPT_KEY

__all__ = ["document_operation_security"]


def document_operation_security(app: Litestar) -> None:
    """State on every operation which credentials it takes: none for public routes, any scheme otherwise.

    Litestar drops an empty ``security`` list, so public operations would
    inherit the document-wide requirement; this sets each one explicitly.
    """
    schema = app.openapi_schema
    schemes = (schema.components.security_schemes or {}) if schema.components else {}
    any_scheme: list[SecurityRequirement] = [{name: []} for name in schemes]
    paths = schema.paths or {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or (path_item := paths.get(route.path_format)) is None:
            continue
        for handler in route.route_handlers:
            public = bool(handler.opt.get(PUBLIC_OPT_KEY))
            for method in handler.http_methods:
                operation: Operation | None = getattr(path_item, method.lower(), None)
                if operation is not None:
                    operation.security = [] if public else list(any_scheme)
