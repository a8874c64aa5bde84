"""The raw floor: the app's user routes on bare ASGI + asyncpg + msgspec, no framework.

Same database work and same JSON as the app (the full name is decrypted and
encrypted with the same Fernet keys), no authentication, logging, metrics or
tracing: what Python on this machine can do at best. Run as a script; reads
``DATABASE_URL``, ``ENCRYPTION_KEYS`` and ``PORT``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

import asyncpg
import msgspec
import uvicorn
from cryptography.fernet import Fernet, MultiFernet

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PREFIX = "/api/v1/users"
_COLUMNS = "id, email, full_name, is_active, is_superuser, created_at, updated_at"
_GET = f"SELECT {_COLUMNS} FROM users WHERE id = $1"  # noqa: S608  # constant column list
# The cheapest SQL we know for the app's page: the page and a plain count, about half the
# database time of one query with count(*) OVER () (which must materialise every row).
_PAGE = f"SELECT {_COLUMNS} FROM users ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"  # noqa: S608
_COUNT = "SELECT count(*) FROM users"
_PATCH = f"UPDATE users SET full_name = $2, updated_at = $3 WHERE id = $1 RETURNING {_COLUMNS}"  # noqa: S608


class User(msgspec.Struct):
    """The app's user object."""

    id: uuid.UUID
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    created_at: datetime
    updated_at: datetime


class Page(msgspec.Struct):
    """The app's page object."""

    items: list[User]
    total: int
    limit: int
    offset: int


class NameChange(msgspec.Struct, forbid_unknown_fields=True):
    """The one PATCH field the floor supports."""

    full_name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None


class Floor:
    """The ASGI application."""

    def __init__(self, dsn: str, keys: list[str]) -> None:
        self.dsn = dsn
        self.fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        self.pool: asyncpg.Pool | None = None
        self.encoder = msgspec.json.Encoder()
        self.name_decoder = msgspec.json.Decoder(NameChange)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route by hand."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/health/live":
            await self._answer(send, 200, b'{"status":"ok"}')
        elif path in {_PREFIX, _PREFIX + "/"} and method == "GET":
            await self._list(scope, send)
        elif path.startswith(_PREFIX + "/") and method in {"GET", "PATCH"}:
            try:
                user_id = uuid.UUID(path[len(_PREFIX) + 1 :])
            except ValueError:
                await self._answer(send, 404, b'{"detail":"Not found"}')
                return
            if method == "GET":
                await self._get(user_id, send)
            else:
                await self._patch(user_id, await _body(receive), send)
        else:
            await self._answer(send, 404, b'{"detail":"Not found"}')

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # As many connections as the app's pool holds: DB_POOL_SIZE (default 20), no overflow.
                size = int(os.environ.get("DB_POOL_SIZE", "20"))
                self.pool = await asyncpg.create_pool(self.dsn, min_size=size, max_size=size)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _user(self, row: asyncpg.Record) -> User:
        stored = row["full_name"]
        return User(
            id=row["id"],
            email=row["email"],
            full_name=None if stored is None else self.fernet.decrypt(stored.encode()).decode(),
            is_active=row["is_active"],
            is_superuser=row["is_superuser"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    async def _get(self, user_id: uuid.UUID, send: Send) -> None:
        assert self.pool is not None  # noqa: S101  # set at start-up
        row = await self.pool.fetchrow(_GET, user_id)
        if row is None:
            await self._answer(send, 404, b'{"detail":"User not found"}')
            return
        await self._answer(send, 200, self.encoder.encode(self._user(row)))

    async def _list(self, scope: Scope, send: Send) -> None:
        assert self.pool is not None  # noqa: S101  # set at start-up
        query = parse_qs(scope["query_string"].decode())
        try:
            limit = int(query.get("limit", ["20"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            limit = offset = -1
        if not 1 <= limit <= 100 or offset < 0:
            await self._answer(send, 422, b'{"detail":"Bad paging"}')
            return
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(_PAGE, limit, offset)
            total = await connection.fetchval(_COUNT)
        page = Page(items=[self._user(row) for row in rows], total=total, limit=limit, offset=offset)
        await self._answer(send, 200, self.encoder.encode(page))

    async def _patch(self, user_id: uuid.UUID, body: bytes, send: Send) -> None:
        assert self.pool is not None  # noqa: S101  # set at start-up
        try:
            change = self.name_decoder.decode(body)
        except msgspec.ValidationError:
            await self._answer(send, 422, b'{"detail":"Bad body"}')
            return
        stored = None if change.full_name is None else self.fernet.encrypt(change.full_name.encode()).decode()
        row = await self.pool.fetchrow(_PATCH, user_id, stored, datetime.now(UTC))
        if row is None:
            await self._answer(send, 404, b'{"detail":"User not found"}')
            return
        await self._answer(send, 200, self.encoder.encode(self._user(row)))

    @staticmethod
    async def _answer(send: Send, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def main() -> None:
    """Serve the floor like ``quoin serve`` serves the app: uvicorn, one worker, default loop and HTTP."""
    dsn = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
    keys = [key.strip() for key in os.environ["ENCRYPTION_KEYS"].split(",") if key.strip()]
    uvicorn.run(
        Floor(dsn, keys),
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        access_log=False,
        log_level="warning",
        server_header=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
