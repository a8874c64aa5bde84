"""A connection pool that serves waiting requests in the order they asked.

SQLAlchemy's async pool keeps idle connections in an ``asyncio.Queue`` and
takes one without waiting whenever the queue holds one. A connection returned
to the pool wakes the oldest waiter, but that waiter only runs on a later turn
of the event loop; any request arriving meanwhile finds the connection in the
queue and takes it, and the woken waiter goes back to the end of the line.
Under sustained load a waiter can be overtaken again and again until the pool
timeout answers 503, while the pool turns over hundreds of times a second.

``FairQueuePool`` hands a returned connection straight to the oldest waiter
instead, so idle connections exist only while nobody waits, and a request
waits at most for the requests ahead of it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TypeVar

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty, Full

__all__ = ["FairQueuePool"]

_T = TypeVar("_T")


class FairAsyncQueue(AsyncAdaptedQueue[_T]):
    """A first-come, first-served queue of idle connections: a returned one goes to the oldest waiter."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._idle: deque[_T] = deque()
        self._waiters: deque[asyncio.Future[_T]] = deque()

    def empty(self) -> bool:
        """No idle connection."""
        return not self._idle

    def full(self) -> bool:
        """As many idle connections as the pool keeps."""
        return 0 < self.maxsize <= len(self._idle)

    def qsize(self) -> int:
        """How many connections are idle."""
        return len(self._idle)

    def put_nowait(self, item: _T) -> None:
        """Hand ``item`` to the oldest waiter, or keep it idle."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a waiter that timed out has been cancelled
                waiter.set_result(item)
                return
        if self.full():
            raise Full
        self._idle.append(item)

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        """Return ``item``; never blocks (the pool returns at most what it took)."""
        self.put_nowait(item)

    def get_nowait(self) -> _T:
        """An idle connection, or ``Empty``."""
        if not self._idle:
            raise Empty
        return self._idle.pop() if self.use_lifo else self._idle.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """An idle connection; else wait in line for one, at most ``timeout`` seconds, then ``Empty``."""
        if self._idle or not block:
            # Idle connections and waiters never coexist: taking one overtakes nobody.
            return self.get_nowait()
        return await_(self._wait(seconds=timeout))

    async def _wait(self, *, seconds: float | None) -> _T:
        waiter: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # Handed a connection just as the wait ended: pass it on rather than lose it.
                self.put_nowait(waiter.result())
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise Empty from None
            raise


class FairQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's async queue pool, serving waiters first come, first served (see the module's notes)."""

    _queue_class = FairAsyncQueue  # type: ignore[assignment]  # SQLAlchemy types it as its own queue
