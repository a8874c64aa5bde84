"""Which credentials each operation takes, stated in the OpenAPI document."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import Operation, SecurityRequirement
from litestar.routes import HTTPRoute

from quoin.auth.authentication import BEARER_SCHEME
from quoin.core.http.routes import PUBLIC_OPT_KEY

__all__ = ["ISSUES_TOKENS", "document_operation_security", "point_password_flow_at_token_route"]

# Handler ``opt`` of the route that issues bearer tokens (the password flow's token URL): the feature marks it.
ISSUES_TOKENS_OPT_KEY = "quoin.issues_tokens"
ISSUES_TOKENS = {ISSUES_TOKENS_OPT_KEY: True}


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


def point_password_flow_at_token_route(app: Litestar) -> None:
    """Set the OAuth2 password flow's token URL to the route marked ``ISSUES_TOKENS``, wherever a feature put it."""
    schema = app.openapi_schema
    schemes = (schema.components.security_schemes or {}) if schema.components else {}
    flows = getattr(schemes.get(BEARER_SCHEME), "flows", None)
    for route in app.routes:
        if isinstance(route, HTTPRoute) and any(h.opt.get(ISSUES_TOKENS_OPT_KEY) for h in route.route_handlers):
            if flows is not None and flows.password is not None:
                flows.password.token_url = route.path
            return
