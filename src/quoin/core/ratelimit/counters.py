"""How rate-limit windows are counted; the counter in process memory (Redis: ``quoin.core.ratelimit.redis``)."""

from __future__ import annotations

import math
import time
from typing import Protocol

__all__ = ["CounterStoreError", "MemoryCounter", "WindowCounter"]


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
