"""Rate-limit windows in Redis, shared by every instance (``REDIS_URL``), and whether Redis answers.

Imported only when ``REDIS_URL`` is set, so ``quoin_redis_up`` exists only then. Redis is asked through
a lean client of its own (``redis_client``): one pipelined connection per process.
"""

from __future__ import annotations

import time
from typing import cast

import structlog
from prometheus_client import Gauge

from quoin.core.ratelimit.counters import CounterStoreError
from quoin.core.ratelimit.redis_client import RedisClient, RedisError, Script, pack

__all__ = ["RedisCounter"]

# One round trip, atomic in Redis, on any Redis version (EXPIRE's NX flag needs 7.0).
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""
# To connect, and for each reply: a hit that waits longer is let through uncounted.
_TIMEOUT_SECONDS = 0.25
_PING = pack("PING")
# While Redis is down, hits fail at once for this long before one asks it again.
_RETRY_AFTER_SECONDS = 5.0

REDIS_UP = Gauge(
    "quoin_redis_up",
    "1 while Redis (the shared rate-limit counters) answers, 0 since it stopped answering.",
    multiprocess_mode="livemostrecent",
)
_log = structlog.get_logger("quoin.redis")


class RedisCounter:
    """Windows in Redis: one atomic ``INCR`` plus an expiry set on the first hit, shared by every instance.

    Every hit and every ``ping`` (the readiness probe's) tells whether Redis
    answers. A change is logged once (``redis_unavailable``, ``redis_available``)
    and shown in ``quoin_redis_up``. While Redis is down, hits fail at once
    without asking it, for a few seconds at a time, so an outage costs requests
    no latency; ``ping`` always asks, so a recovery is noticed within a probe
    period.
    """

    def __init__(self, url: str) -> None:
        self._redis = RedisClient(url, timeout=_TIMEOUT_SECONDS)
        self._hit = Script(_HIT_SCRIPT)
        self._retry_at: float | None = None  # None while Redis answers
        REDIS_UP.set(1)

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one hit in Redis; ``CounterStoreError`` if it does not answer (or did not a moment ago)."""
        if self._retry_at is not None and time.monotonic() < self._retry_at:
            raise CounterStoreError("Redis did not answer a moment ago")
        try:
            count, ttl = cast("list[int]", await self._hit.run(self._redis, (key,), (window_seconds,)))
        except RedisError as exc:
            raise self._failed(exc) from exc
        self._answered()
        return count, ttl if ttl > 0 else window_seconds

    async def ping(self) -> None:
        """Ask Redis now; ``CounterStoreError`` if it does not answer."""
        try:
            await self._redis.execute(_PING)
        except RedisError as exc:
            raise self._failed(exc) from exc
        self._answered()

    async def close(self) -> None:
        """Close the connection."""
        await self._redis.close()

    def _failed(self, exc: RedisError) -> CounterStoreError:
        if self._retry_at is None:
            _log.warning("redis_unavailable", error=repr(exc))
            REDIS_UP.set(0)
        self._retry_at = time.monotonic() + _RETRY_AFTER_SECONDS
        return CounterStoreError(str(exc))

    def _answered(self) -> None:
        if self._retry_at is not None:
            self._retry_at = None
            _log.info("redis_available")
            REDIS_UP.set(1)
