"""Browser-facing protections: security headers, CORS and the accepted ``Host`` names."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from http import HTTPStatus

from litestar.config.cors import CORSConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import HttpMethod, MediaType, ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from quoin.config import HttpSettings
from quoin.core.errors import BadRequestError
from quoin.core.http.openapi import PROBLEM_MEDIA_TYPE
from quoin.core.http.problems import render_problem
from quoin.core.http.request_id import REQUEST_ID_HEADER

__all__ = ["HostHeaderMiddleware", "cors_config", "refused_preflight_as_problem", "security_headers"]

# JSON answers load nothing and are never framed.
_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# HTML pages (landing page, docs) load only from this origin. Scalar styles itself
# inline and is configured by one inline script, hence 'unsafe-inline'; no eval.
_HTML_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_HSTS = "max-age=63072000; includeSubDomains"


def security_headers(*, hsts: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A ``before_send`` hook adding the security headers to every response (HSTS only when ``hsts``)."""
    fixed = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        **({"Strict-Transport-Security": _HSTS} if hsts else {}),
    }

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in fixed.items():
            headers[name] = value
        is_html = (headers.get("content-type") or "").startswith("text/html")
        headers["Content-Security-Policy"] = _HTML_CSP if is_html else _API_CSP
        # Answers of the API carry personal data and credentials: no shared or browser cache keeps them.
        if scope["path"].startswith("/api/") and "cache-control" not in headers:
            headers["Cache-Control"] = "no-store"

    return add_security_headers


def cors_config(
    settings: HttpSettings, *, development: bool, credential_headers: Sequence[str] = ()
) -> CORSConfig | None:
    """CORS: the configured origins; in development any origin when none are configured (never with credentials).

    Browsers may send ``Authorization`` and the headers of the registered credentials (``credential_headers``).
    """
    origins = settings.cors_origins or (["*"] if development else [])
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        # Credentials never go with a wildcard (start-up refuses that when configured; here it is the dev default).
        allow_credentials=settings.cors_allow_credentials and "*" not in origins,
        allow_headers=["Authorization", "Content-Type", *credential_headers, REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, "Location", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
                        "RateLimit-Reset"],
    )  # fmt: skip


_REFUSED_PREFLIGHT_STATE_KEY = "quoin.refused_preflight"
_REFUSED_PREFLIGHT_DETAIL = "Cross-origin request refused: its origin, method or headers are not allowed"


async def refused_preflight_as_problem(message: Message, scope: Scope) -> None:
    """``before_send`` hook: a refused CORS preflight answers a 400 problem, not Litestar's plain text.

    Litestar's CORS middleware answers every preflight itself, outside the
    app's exception handling, and refuses one with a ``text/plain`` 400. No
    other answer of this app is plain text, so that answer to an ``OPTIONS``
    with an ``Origin`` is the refusal: its body is replaced by the problem
    document (same status, no CORS headers, so the browser still blocks).
    """
    state = scope.setdefault("state", {})
    if message["type"] == "http.response.body":
        if (body := state.pop(_REFUSED_PREFLIGHT_STATE_KEY, None)) is not None:
            message["body"] = body
        return
    if message["type"] != "http.response.start" or message["status"] != HTTPStatus.BAD_REQUEST:
        return
    headers = MutableScopeHeaders.from_message(message)
    if scope.get("method") != HttpMethod.OPTIONS or not (headers.get("content-type") or "").startswith(MediaType.TEXT):
        return
    if not any(name == b"origin" for name, _ in scope["headers"]):
        return
    body = render_problem(scope, HTTPStatus.BAD_REQUEST, _REFUSED_PREFLIGHT_DETAIL)
    headers["Content-Type"] = PROBLEM_MEDIA_TYPE
    headers["Content-Length"] = str(len(body))
    state[_REFUSED_PREFLIGHT_STATE_KEY] = body


class HostHeaderMiddleware(ASGIMiddleware):
    """Refuse requests whose ``Host`` is not one of ``ALLOWED_HOSTS`` (400 problem).

    Health probes are exempt: orchestrators and load balancers probe an
    instance by its address (Kubernetes sends ``Host: <pod IP>:<port>``).
    """

    scopes = (ScopeType.HTTP,)

    @staticmethod
    def should_bypass_for_scope(scope: Scope) -> bool:
        """Probes skip the check."""
        return str(scope["path"]).startswith("/health/")

    def __init__(self, hosts: list[str]) -> None:
        patterns = [re.escape(h).replace(r"\*", "[^.]+") for h in hosts]
        self._allowed = re.compile(rf"^(?:{'|'.join(patterns)})(?::\d+)?$", re.IGNORECASE)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Check the host, then pass the request on."""
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if not self._allowed.match(host):
            raise BadRequestError("Invalid Host header")
        await next_app(scope, receive, send)
