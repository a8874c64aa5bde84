"""Rate-limit windows in Redis, shared by every instance (``REDIS_URL``)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import RedisError

from quoin.core.rate_limit import CounterStoreError

__all__ = ["RedisCounter"]

# One round trip, atomic in Redis, on any Redis version (EXPIRE's NX flag needs 7.0).
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""


class RedisCounter:
    """Windows in Redis: one atomic ``INCR`` plus an expiry set on the first hit, shared by every instance."""

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self._hit = self._redis.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one hit in Redis."""
        try:
            count, ttl = await self._hit(keys=[key], args=[window_seconds])
        except RedisError as exc:
            raise CounterStoreError(str(exc)) from exc
        return int(count), int(ttl) if int(ttl) > 0 else window_seconds

    async def ping(self) -> None:
        """Raise ``RedisError`` if Redis does not answer."""
        await self._redis.ping()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
