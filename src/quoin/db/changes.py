"""Rows other sessions changed, as PostgreSQL notifications, and caches of rows that trust them.

Triggers on the cached tables (migration 0005) send ``<table>:<key>`` on the
``quoin_row_changes`` channel when a row is updated or deleted (``<table>:``
when the table is truncated); PostgreSQL delivers it, at commit, to every
instance's listener. A ``RowCache`` serves a
row only while its feed is **known live**: the listener's connection is open
and a notification it sent itself came back within the last few seconds, which
proves that notifications arrive (a connection pooler in transaction mode, or a
half-open connection, fails that proof; so does a connection whose statements
run on another backend than the one listening). A connection that stalls
silently is trusted for at most those few seconds. Otherwise every lookup reads the
database. When the listener reconnects, every cache is emptied: changes made
while nobody listened were never announced.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import time
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from quoin.db.errors import DRIVER_ERRORS

__all__ = ["CHANGES_STATE_KEY", "CHANNEL", "ChangeFeed", "RowCache", "UnsupportedConnectionError", "reads_committed"]

CHANNEL = "quoin_row_changes"
CHANGES_STATE_KEY = "quoin.changes"  # the app's feed, in its State: writers call forget() after committing

_ECHO = "echo:"
_ECHO_SECONDS = 1.0  # how often the listener proves notifications still arrive
_LIVE_FOR_SECONDS = 3.0  # trusted this long after the last echo came back
_RECONNECT_SECONDS = 1.0
_START_WAIT_SECONDS = 1.0
_MAX_ENTRIES = 10_000

_CONNECTION_FAILURES: tuple[type[Exception], ...] = (*DRIVER_ERRORS, OSError, TimeoutError)

V = TypeVar("V")


def _logger() -> structlog.typing.FilteringBoundLogger:
    # Fetched when used, not at import: a logger bound once would ignore a later logging configuration.
    return structlog.get_logger("quoin.db")  # type: ignore[no-any-return]


class UnsupportedConnectionError(Exception):
    """The listening connection cannot prove that notifications reach it."""


class RowCache(Generic[V]):
    """Values derived from rows of one table, by the key its trigger announces; trusted only while the feed is live.

    A reader takes ``version()`` before reading the database and hands it to
    ``put``: a change announced meanwhile makes the value stale, and it is not
    stored.
    """

    def __init__(self, feed: ChangeFeed, max_entries: int = _MAX_ENTRIES) -> None:
        self._feed = feed
        self._entries: dict[str, V] = {}
        self._max_entries = max_entries
        self._version = 0

    def get(self, key: str) -> V | None:
        """The cached value, or None when absent or while the feed is not known live."""
        return self._entries.get(key) if self._feed.live else None

    def version(self) -> int:
        """A token to hand to ``put``: taken before reading the row the value comes from."""
        return self._version

    def put(self, key: str, value: V, version: int, read_by: AsyncSession) -> None:
        """Keep ``value``, read by ``read_by``, unless a change was announced since ``version``.

        Nothing is kept while the feed is not live, nor from a session that may see uncommitted rows.
        """
        if version != self._version or not self._feed.live or not reads_committed(read_by):
            return
        if len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest entry
        self._entries[key] = value

    def forget(self, key: str) -> None:
        """Drop the row's value: it changed."""
        self._version += 1
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Drop everything: changes may have gone unannounced."""
        self._version += 1
        self._entries.clear()


def reads_committed(session: AsyncSession) -> bool:
    """Whether ``session`` sees committed rows only: bound to an engine, each transaction its own.

    A session bound to one connection (as the tests bind theirs, inside a
    transaction rolled back at the end) may see writes that will never be
    committed, hence never announced: what it reads must not be cached.
    """
    return isinstance(session.bind, AsyncEngine)


class ChangeFeed:
    """One listening connection per process; the row caches it keeps honest.

    ``connect_args`` None (SQLite) means no feed: it is never live and the
    caches never serve.
    """

    def __init__(self, connect_args: Mapping[str, Any] | None) -> None:
        self._connect_args = connect_args
        self._caches: dict[str, list[RowCache[Any]]] = {}
        self._connection: asyncpg.Connection | None = None
        self._echoed_at = -_LIVE_FOR_SECONDS
        self._task: asyncio.Task[None] | None = None
        self._echoes = itertools.count()
        self._first_echo: asyncio.Event | None = None
        self._listening = False
        self._backend: int | None = None  # the listening backend's pid

    @classmethod
    def for_url(cls, url: URL, connect_timeout: float) -> ChangeFeed:
        """The feed for a database URL: asyncpg's own connection arguments as SQLAlchemy would pass them."""
        if url.get_backend_name() != "postgresql":
            return cls(None)
        _, params = url.get_dialect()().create_connect_args(url)
        accepted = inspect.signature(asyncpg.connect).parameters
        args = {name: value for name, value in params.items() if name in accepted}
        args["server_settings"] = {"application_name": "quoin-changes"}
        return cls({**args, "timeout": connect_timeout})

    def cache(self, table: str) -> RowCache[Any]:
        """A new cache of values from ``table``'s rows, emptied of a row whenever it changes."""
        cache: RowCache[Any] = RowCache(self)
        self._caches.setdefault(table, []).append(cache)
        return cache

    @property
    def live(self) -> bool:
        """Whether changes are known to arrive: connected, and an echo came back recently."""
        return self._connection is not None and time.monotonic() - self._echoed_at < _LIVE_FOR_SECONDS

    def forget(self, table: str, key: str) -> None:
        """Announce a change made by this process at once (its notification follows)."""
        for cache in self._caches.get(table, ()):
            cache.forget(key)

    async def start(self) -> None:
        """Start listening, waiting a moment for the feed to be live, so caches serve from the first request.

        A feed that is not live by then keeps trying in the background; the caches wait for it.
        """
        if self._connect_args is not None and self._caches and self._task is None:
            self._first_echo = asyncio.Event()
            self._task = asyncio.create_task(self._listen(), name="quoin-change-feed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_echo.wait(), _START_WAIT_SECONDS)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        try:
            while True:
                error: Exception | None = None
                try:
                    await self._serve_one_connection()
                except Exception as exc:  # whatever ends a connection, the feed must come back
                    error = exc
                self._lost()
                if self._listening:  # once per loss, not once per failed retry
                    self._listening = False
                    _logger().warning("change_feed_lost", error=repr(error) if error else "connection closed")
                await asyncio.sleep(_RECONNECT_SECONDS)
        finally:
            self._lost()

    async def _serve_one_connection(self) -> None:
        assert self._connect_args is not None  # noqa: S101  # start() checked it
        connection: asyncpg.Connection = await asyncpg.connect(**self._connect_args)
        closed = asyncio.Event()

        def terminated(_connection: object) -> None:
            self._lost()  # before any request runs again: nothing may be served from the caches now
            closed.set()

        connection.add_termination_listener(terminated)
        try:
            await connection.add_listener(CHANNEL, self._notified)
            self._backend = await connection.fetchval("SELECT pg_backend_pid()")
            for cache in itertools.chain.from_iterable(self._caches.values()):
                cache.clear()  # whatever changed while nobody listened
            self._connection = connection
            self._listening = True
            _logger().info("change_feed_listening")
            while not closed.is_set():
                await self._echo(connection)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(closed.wait(), _ECHO_SECONDS)
        finally:
            self._lost()
            with contextlib.suppress(*_CONNECTION_FAILURES):
                await connection.close(timeout=1)

    async def _echo(self, connection: asyncpg.Connection) -> None:
        """Send the proof that notifications arrive, from the backend that listens.

        Behind a pooler in transaction mode the statement may run on another
        server connection than the one that ran ``LISTEN``, which then misses
        notifications: such a connection is refused, never trusted.
        """
        sent_by = await connection.fetchval(
            "SELECT pg_backend_pid() FROM pg_notify($1, $2)",
            CHANNEL,
            f"{_ECHO}{next(self._echoes)}",
            timeout=_ECHO_SECONDS,
        )
        if sent_by != self._backend:
            raise UnsupportedConnectionError("the listening connection changed backend (a pooler in transaction mode?)")

    def _lost(self) -> None:
        self._connection = None
        self._echoed_at = -_LIVE_FOR_SECONDS  # a new connection proves itself anew

    def _notified(self, _connection: object, pid: int, _channel: str, payload: object) -> None:
        if not isinstance(payload, str):
            return
        if payload.startswith(_ECHO):
            if pid != self._backend:  # another instance's proof, not ours
                return
            self._echoed_at = time.monotonic()
            if self._first_echo is not None:
                self._first_echo.set()
            return
        table, _, key = payload.partition(":")
        if key:
            self.forget(table, key)
        else:  # the whole table (TRUNCATE)
            for cache in self._caches.get(table, ()):
                cache.clear()
