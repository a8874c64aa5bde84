"""Fixed-window rate limits, shared through Redis when configured, failing open when it is not reachable.

Litestar's own rate limiter keeps a list of timestamps per caller in one
store value, read and rewritten under a per-process lock: across instances
two requests can read the same count, and each request rewrites the whole
list. Here a window is one Redis ``INCR`` (atomic across every instance, O(1)
per request) with an expiry, or a dict in process memory without Redis. When
Redis cannot be reached the request is let through and counted; the Redis
counter logs the outage once and does not ask Redis again for a few seconds,
so an outage costs no latency.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter

from quoin.core.access import OPERATIONAL_PATH_PREFIXES
from quoin.core.errors import TooManyRequestsError

__all__ = [
    "AddressLimit",
    "CounterStoreError",
    "MemoryCounter",
    "RateLimitMiddleware",
    "RateLimiter",
    "Window",
    "add_rate_limit_headers",
    "window_counter",
]

WINDOW_SECONDS = 60
_KEY_PREFIX = "quoin:rate:"
_HEADERS_STATE_KEY = "quoin.rate_limit_headers"

RATE_LIMIT_STORE_FAILURES = Counter(
    "quoin_rate_limit_store_failures", "Rate-limit checks skipped because the counter store did not answer."
)


class CounterStoreError(Exception):
    """The counter's store did not answer (raised by counters for their client library's errors)."""


class WindowCounter(Protocol):
    """Counts hits on a key within a window that starts at the first hit."""

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one hit; return the hits so far in the window and the seconds until it resets."""
        ...

    async def ping(self) -> None:
        """Raise ``CounterStoreError`` if the store cannot be reached."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryCounter:
    """Windows in this process's memory: limits are per process."""

    _PRUNE_ABOVE = 10_000

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, float]] = {}

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one hit in memory."""
        now = time.monotonic()
        count, resets_at = self._windows.get(key, (0, 0.0))
        if resets_at <= now:
            count, resets_at = 0, now + window_seconds
            if len(self._windows) > self._PRUNE_ABOVE:
                self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
        self._windows[key] = (count + 1, resets_at)
        return count + 1, math.ceil(resets_at - now)

    async def ping(self) -> None:
        """Memory is always there."""

    async def close(self) -> None:
        """Nothing to release."""


def window_counter(redis_url: str | None) -> WindowCounter:
    """Redis windows when ``redis_url`` is set, else windows in this process's memory."""
    if not redis_url:
        return MemoryCounter()
    # Imported only here: the Redis client costs 8 MiB and 40 ms of start-up to processes that never use it.
    from quoin.core.redis_counter import RedisCounter  # noqa: PLC0415

    return RedisCounter(redis_url)


@dataclass(frozen=True, slots=True)
class Window:
    """Where a caller stands in the current window."""

    limit: int
    count: int
    reset_in: int

    @property
    def exceeded(self) -> bool:
        """True once the caller has made more requests than allowed."""
        return self.count > self.limit

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` headers, plus ``Retry-After`` once exceeded."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(self.limit - self.count, 0)),
            "RateLimit-Reset": str(self.reset_in),
        }
        if self.exceeded:
            headers["Retry-After"] = str(self.reset_in)
        return headers


class RateLimiter:
    """Checks limits on a counter; answers None (let it through) while the counter's store is down."""

    def __init__(self, counter: WindowCounter, *, window_seconds: int = WINDOW_SECONDS) -> None:
        self.counter = counter
        self.window_seconds = window_seconds

    async def check(self, key: str, limit: int) -> Window | None:
        """Count a hit on ``key``; the caller's window, or None if it could not be counted."""
        try:
            count, reset_in = await self.counter.hit(_KEY_PREFIX + key, self.window_seconds)
        except (CounterStoreError, OSError, TimeoutError):
            RATE_LIMIT_STORE_FAILURES.inc()  # the counter itself logs the outage, once
            return None
        return Window(limit=limit, count=count, reset_in=reset_in)

    async def enforce(self, key: str, limit: int, detail: str) -> Window | None:
        """Like ``check``, but raise ``TooManyRequestsError`` (429) once the limit is exceeded."""
        window = await self.check(key, limit)
        if window is not None and window.exceeded:
            raise TooManyRequestsError(detail, headers=window.headers())
        return window


class AddressLimit:
    """A limit of its own on one kind of costly request (a login, a sign-up), counted per client address.

    It comes on top of the per-caller limit, from the handler, so only requests
    that reached it (a valid body) count, and before the costly work (an Argon2
    hash). The address is the one the per-caller limit uses. ``limiter`` None
    (``RATE_LIMIT_ENABLED=false``) turns it off.
    """

    def __init__(self, limiter: RateLimiter | None, name: str, per_minute: int, detail: str) -> None:
        self._limiter = limiter
        self._name = name
        self._per_minute = per_minute
        self._detail = detail

    async def check(self, scope: Scope) -> None:
        """Count one attempt from the request's client address; ``TooManyRequestsError`` (429) over the limit."""
        if self._limiter is not None:
            await self._limiter.enforce(f"{self._name}:{_client_address(scope)}", self._per_minute, self._detail)


class RateLimitMiddleware(ASGIMiddleware):
    """The per-caller limit on every API route.

    ``identify`` names the caller. Placed before authentication it names the
    user of a verified token, and every other request (no, bad or API-key
    credentials) counts as its client address: the socket peer, or the
    ``X-Forwarded-For`` client when uvicorn trusts the peer (``TRUSTED_PROXIES``).
    Placed after authentication (``by_address=False``) it names the owner of an
    API key and skips everything else.
    """

    scopes = (ScopeType.HTTP,)

    def __init__(
        self,
        limiter: RateLimiter,
        per_minute: int,
        identify: Callable[[Scope], str | None],
        *,
        by_address: bool = True,
    ) -> None:
        self.limiter = limiter
        self.per_minute = per_minute
        self.identify = identify
        self.by_address = by_address

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Count the request, refuse it over the limit, and stamp the ``RateLimit-*`` headers."""
        if scope["path"].startswith(OPERATIONAL_PATH_PREFIXES):
            await next_app(scope, receive, send)
            return
        caller = self.identify(scope) or (_client_address(scope) if self.by_address else None)
        if caller is None:
            await next_app(scope, receive, send)
            return
        window = await self.limiter.enforce(caller, self.per_minute, "Rate limit exceeded; see Retry-After")
        if window is not None:
            # Stamped by add_rate_limit_headers, so error answers raised further in carry them too;
            # a later check (an API key's owner) replaces an earlier one (the address).
            scope.setdefault("state", {})[_HEADERS_STATE_KEY] = window.headers()
        await next_app(scope, receive, send)


async def add_rate_limit_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: the caller's ``RateLimit-*`` headers on whatever answer it gets."""
    if message["type"] == "http.response.start" and (headers := scope.get("state", {}).get(_HEADERS_STATE_KEY)):
        response_headers = MutableScopeHeaders.from_message(message)
        for name, value in headers.items():
            if name not in response_headers:  # a 429 already carries its own
                response_headers[name] = value


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"
