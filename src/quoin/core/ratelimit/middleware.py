"""The per-caller limit on every API route, and the ``RateLimit-*`` headers on every answer."""

from __future__ import annotations

from collections.abc import Callable

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from quoin.core.http.routes import OPERATIONAL_PATH_PREFIXES
from quoin.core.ratelimit.limiter import RateLimiter, client_address

__all__ = ["RateLimitMiddleware", "add_rate_limit_headers"]

_HEADERS_STATE_KEY = "quoin.rate_limit_headers"


class RateLimitMiddleware(ASGIMiddleware):
    """The per-caller limit on every API route, one counter round trip per request.

    ``identify`` names the caller when its credential says who it is without
    the database; every other request (no, bad or unknown credentials) counts
    as its client address: the socket peer, or the ``X-Forwarded-For`` client
    when uvicorn trusts the peer (``TRUSTED_PROXIES``).
    """

    scopes = (ScopeType.HTTP,)

    def __init__(self, limiter: RateLimiter, per_minute: int, identify: Callable[[Scope], str | None]) -> None:
        self.limiter = limiter
        self.per_minute = per_minute
        self.identify = identify

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Count the request, refuse it over the limit, and stamp the ``RateLimit-*`` headers."""
        if scope["path"].startswith(OPERATIONAL_PATH_PREFIXES):
            await next_app(scope, receive, send)
            return
        caller = self.identify(scope) or client_address(scope)
        window = await self.limiter.enforce(caller, self.per_minute, "Rate limit exceeded; see Retry-After")
        if window is not None:
            # Stamped by add_rate_limit_headers, so error answers raised further in carry them too.
            scope.setdefault("state", {})[_HEADERS_STATE_KEY] = window.headers()
        await next_app(scope, receive, send)


async def add_rate_limit_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: the caller's ``RateLimit-*`` headers on whatever answer it gets."""
    if message["type"] == "http.response.start" and (headers := scope.get("state", {}).get(_HEADERS_STATE_KEY)):
        response_headers = MutableScopeHeaders.from_message(message)
        for name, value in headers.items():
            if name not in response_headers:  # a 429 already carries its own
                response_headers[name] = value
