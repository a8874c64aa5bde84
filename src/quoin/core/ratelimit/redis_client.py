"""A lean Redis client, for exactly what the rate-limit counter needs: one pipelined connection.

redis-py costs ~100 µs of CPU per command (a pooled connection checked out and
back, a timeout task per call, its observability hooks). Here concurrent
commands are written at once on one connection and each waits on a future;
replies, parsed by hiredis (the Redis project's own C parser), resolve the
futures first in, first out. One timer per connection watches the oldest
command: past the timeout the connection is dropped with every command still
waiting (later replies could no longer be matched to their commands), and the
next command opens another. Nothing is retried: a command may have run before
its reply was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias, cast
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis

__all__ = ["RedisAddress", "RedisClient", "RedisError", "Reply", "ReplyError", "Script", "pack"]

Reply: TypeAlias = "int | bytes | list[Reply] | None"
# uvloop's clock and timers count whole milliseconds: a timer may fire a little before its time.
_TIMER_SLACK = 0.001


class RedisError(Exception):
    """Redis did not answer: not reachable, no reply in time, connection lost, or an error reply."""


class ReplyError(RedisError):
    """Redis answered with an error (``NOSCRIPT …``, ``WRONGPASS …``)."""


def pack(*parts: str | int | bytes) -> bytes:
    """One command in RESP, an array of bulk strings (encoded by hiredis, in C)."""
    return cast("bytes", hiredis.pack_command(parts))  # type: ignore[arg-type]  # its stub types a 1-tuple


@dataclass(frozen=True, slots=True)
class RedisAddress:
    """Where Redis listens and how to start a session: ``redis://``, ``rediss://`` (TLS) or ``unix://`` URLs."""

    host: str  # the socket's path for unix://
    port: int | None  # None for unix://
    tls: bool
    username: str | None
    password: str | None
    db: int

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        """``redis[s]://[[user]:password@]host[:port][/db]`` or ``unix://[[user]:password@]/path``, ``?db=N`` on either.

        ``ValueError`` for anything else, as redis-py's ``from_url`` raised, but
        also for a db that is not a number and for redis-py's other options.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("a Redis URL starts with redis://, rediss:// or unix://")
        options = parse_qs(parts.query)
        if unsupported := sorted(set(options) - {"db"}):
            raise ValueError(f"unsupported Redis URL option(s): {', '.join(unsupported)} (only db is)")
        unix = parts.scheme == "unix"
        db = options["db"][0] if "db" in options else "" if unix else unquote(parts.path).strip("/")
        if not (db or "0").isdecimal():
            raise ValueError(f"the Redis database must be a number, not {db!r}")
        return cls(
            host=unquote(parts.path) if unix else parts.hostname or "localhost",
            port=None if unix else parts.port or 6379,
            tls=parts.scheme == "rediss",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            db=int(db or 0),
        )

    def session(self) -> list[bytes]:
        """The commands that start a session on a new connection: ``AUTH`` if credentials are given, ``SELECT``."""
        commands = []
        if self.password or self.username:
            credentials = (self.username, self.password or "") if self.username else (self.password or "",)
            commands.append(pack("AUTH", *credentials))
        if self.db:
            commands.append(pack("SELECT", self.db))
        return commands


class _Pipeline(asyncio.Protocol):
    """One connection: commands are written as they come; each reply resolves the oldest waiting future."""

    _transport: asyncio.Transport

    def __init__(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._timeout = timeout
        self._parser = hiredis.Reader(protocolError=RedisError, replyError=ReplyError)
        self._waiting: deque[tuple[asyncio.Future[Reply], float]] = deque()  # (reply, deadline)
        self._timer: asyncio.TimerHandle | None = None
        self.lost: str | None = None  # why it can no longer be used
        self.closed = self._loop.create_future()

    def send(self, command: bytes) -> asyncio.Future[Reply]:
        """Write ``command``; its reply, or ``RedisError`` if it does not come within the timeout."""
        if self.lost is not None:  # lost while its caller waited to use it
            raise RedisError(self.lost)
        reply = self._loop.create_future()
        deadline = self._loop.time() + self._timeout
        self._waiting.append((reply, deadline))
        self._transport.write(command)
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._check_oldest)
        return reply

    def drop(self, reason: str) -> None:
        """Fail every command still waiting and close the connection."""
        if self.lost is None:
            self.lost = reason
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiting:
            reply, _ = self._waiting.popleft()
            if not reply.done():
                reply.set_exception(RedisError(reason))
        self._transport.abort()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self._parser.feed(data)
        try:
            while (answer := self._parser.gets()) is not False:
                if not self._waiting:  # a reply nobody asked for: the stream is out of step
                    self.drop("unexpected reply")
                    return
                reply, _ = self._waiting.popleft()
                if reply.done():  # its caller stopped waiting (cancelled)
                    continue
                if isinstance(answer, ReplyError):
                    reply.set_exception(answer)
                else:
                    reply.set_result(answer)
        except RedisError as exc:  # not Redis's protocol: nothing more can be matched
            self.drop(f"unreadable reply: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.drop(f"connection lost: {exc}" if exc else "connection closed by Redis")
        if not self.closed.done():
            self.closed.set_result(None)

    def _check_oldest(self) -> None:
        self._timer = None
        if self._waiting:
            deadline = self._waiting[0][1]
            if deadline - self._loop.time() < _TIMER_SLACK:
                self.drop(f"no reply within {self._timeout} s")
            else:
                self._timer = self._loop.call_at(deadline, self._check_oldest)


class RedisClient:
    """Commands to one Redis over one pipelined connection, opened on first use and again once lost."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._address = RedisAddress.parse(url)
        self._timeout = timeout  # to connect, and for each reply
        # Verified against the system's CAs (SSL_CERT_FILE adds one) and the host name, as redis-py did.
        self._tls = ssl.create_default_context() if self._address.tls else None
        self._pipeline: _Pipeline | None = None
        self._opening: asyncio.Task[_Pipeline] | None = None

    async def execute(self, command: bytes) -> Reply:
        """Send a ``pack``-ed command and wait for its reply; ``RedisError`` (``ReplyError`` for an error reply)."""
        pipeline = self._pipeline
        if pipeline is None or pipeline.lost is not None:
            pipeline = await self._connected()
        return await pipeline.send(command)

    async def close(self) -> None:
        """Close the connection (a later command opens another)."""
        if self._opening is not None:  # let it end (within the timeouts) rather than leave its connection open
            with contextlib.suppress(RedisError):
                await asyncio.shield(self._opening)
        if self._pipeline is not None:
            self._pipeline.drop("client closed")
            await self._pipeline.closed

    async def _connected(self) -> _Pipeline:
        # Every command waiting for a connection shares one attempt, which a caller giving up does not cancel.
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._connect())
        return await asyncio.shield(self._opening)

    async def _connect(self) -> _Pipeline:
        try:
            pipeline = await self._open()
            try:
                for command in self._address.session():
                    await pipeline.send(command)
            except RedisError:
                pipeline.drop("session refused")
                raise
            self._pipeline = pipeline
            return pipeline
        finally:
            self._opening = None

    async def _open(self) -> _Pipeline:
        loop = asyncio.get_running_loop()
        address = self._address
        try:
            async with asyncio.timeout(self._timeout):
                if address.port is None:
                    _, pipeline = await loop.create_unix_connection(lambda: _Pipeline(self._timeout), address.host)
                else:
                    _, pipeline = await loop.create_connection(
                        lambda: _Pipeline(self._timeout), address.host, address.port, ssl=self._tls
                    )
        except OSError as exc:  # TimeoutError and ssl.SSLError too
            raise RedisError(f"cannot connect to Redis: {str(exc) or 'no answer in time'}") from exc
        return pipeline


class Script:
    """A Lua script run by its SHA1 (``EVALSHA``), sent whole (``EVAL``, which caches it) when Redis lacks it."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def run(self, client: RedisClient, keys: Sequence[str], args: Sequence[str | int]) -> Reply:
        """The script's reply for ``keys`` and ``args``."""
        try:
            return await client.execute(pack("EVALSHA", self._sha, len(keys), *keys, *args))
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        # Redis restarted, or its script cache was flushed: the source, which Redis caches again.
        return await client.execute(pack("EVAL", self._source, len(keys), *keys, *args))
