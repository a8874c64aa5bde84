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

from dataclasses import dataclass

from litestar.types import Scope
from prometheus_client import Counter

from quoin.core.errors import TooManyRequestsError
from quoin.core.ratelimit.counters import CounterStoreError, MemoryCounter, WindowCounter

__all__ = ["AddressLimit", "RateLimiter", "Window", "client_address", "window_counter"]

WINDOW_SECONDS = 60
_KEY_PREFIX = "quoin:rate:"

RATE_LIMIT_STORE_FAILURES = Counter(
    "quoin_rate_limit_store_failures", "Rate-limit checks skipped because the counter store did not answer."
)


def window_counter(redis_url: str | None) -> WindowCounter:
    """Redis windows when ``redis_url`` is set, else windows in this process's memory."""
    if not redis_url:
        return MemoryCounter()
    # Imported only here: the Redis client costs memory and start-up time to processes that never use it.
    from quoin.core.ratelimit.redis import RedisCounter  # noqa: PLC0415

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
            await self._limiter.enforce(f"{self._name}:{client_address(scope)}", self._per_minute, self._detail)


def client_address(scope: Scope) -> str:
    """The key a request counts under when it counts as its address: the client as uvicorn resolved it."""
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"
