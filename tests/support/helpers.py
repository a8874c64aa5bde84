"""Small helpers shared by tests: sign-up through the API and problem-document checks."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from asgi_lifespan import LifespanManager
from litestar import Litestar
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from quoin.app import create_app
from quoin.config import Settings
from tests.support.postgres_server import free_port

USERS = "/api/v1/users/"
TOKEN = "/api/v1/auth/token"
PASSWORD = "correct horse battery"
# What production start-up demands: a strong secret and encryption keys of its own.
PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "p" * 48,
    "ENCRYPTION_KEYS": "d_HSt6zaF0Xqnz-kE2abbzpPa0lHvOvxltg4kIxnCOE=",
}


@dataclass(frozen=True)
class Account:
    """A user created through the API, with headers that authenticate as it."""

    user: dict[str, Any]
    headers: dict[str, str]

    @property
    def id(self) -> str:
        """The user's id."""
        return str(self.user["id"])

    @property
    def path(self) -> str:
        """The user's resource path."""
        return f"{USERS}{self.user['id']}"


def unique_email(prefix: str = "user") -> str:
    """An email no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def sign_up(client: httpx.AsyncClient, email: str | None = None, **fields: Any) -> dict[str, Any]:
    """Create a user through the API and return its JSON; fails the test on anything but 201."""
    body = {"email": email or unique_email(), "password": PASSWORD, **fields}
    response = await client.post(USERS, json=body)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for ``email`` from the token endpoint; fails the test on anything but 200."""
    response = await client.post(TOKEN, data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def signed_up_token(client: httpx.AsyncClient, email: str) -> str:
    """Sign ``email`` up and log in, through ``client``; the bearer token."""
    assert (await client.post(USERS, json={"email": email, "password": PASSWORD})).status_code == 201
    answer = await client.post(TOKEN, data={"username": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def make_account(
    client: httpx.AsyncClient,
    db: AsyncConnection | None = None,
    *,
    superuser: bool = False,
    email: str | None = None,
    **fields: Any,
) -> Account:
    """Sign up (and, with ``superuser``, promote through ``db``), then log in."""
    user = await sign_up(client, email, **fields)
    if superuser:
        assert db is not None, "promoting needs the database connection"
        await db.execute(text("UPDATE users SET is_superuser = true WHERE id = :id"), {"id": user["id"]})
        user = {**user, "is_superuser": True}
    return Account(user=user, headers=await login(client, user["email"]))


async def sixty_four_at_once(client: httpx.AsyncClient, account: Account, me: dict[str, str]) -> list[int]:
    """Statuses of 64 concurrent requests as ``account``: reads, PATCHes, and ``/me`` sent with ``me``."""
    requests = [
        *(client.get(account.path, headers=account.headers) for _ in range(24)),
        *(client.get(f"{USERS}me", headers=me) for _ in range(20)),
        *(client.patch(account.path, json={"full_name": f"Name {i}"}, headers=account.headers) for i in range(20)),
    ]
    return [response.status_code for response in await asyncio.gather(*requests)]


def assert_problem(response: httpx.Response, status: int, *, detail: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with ``status``; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"] == "about:blank"
    assert problem["title"]
    assert problem["instance"] == response.request.url.raw_path.decode().split("?")[0]
    assert problem["request_id"] == response.headers["x-request-id"]
    if detail is not None:
        assert problem["detail"] == detail
    return problem


async def count_users(db: AsyncConnection, email: str | None = None) -> int:
    """Rows in ``users`` (with this email, if given), as the database sees them."""
    if email is None:
        return int((await db.execute(text("SELECT count(*) FROM users"))).scalar_one())
    query = text("SELECT count(*) FROM users WHERE email = :email")
    return int((await db.execute(query, {"email": email})).scalar_one())


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[Litestar, httpx.AsyncClient]]:
    """A separate app built from ``settings``, started, with a client; stopped afterwards."""
    application = create_app(settings)
    async with LifespanManager(application):  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=application)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield application, client


def db_config_of(application: Litestar) -> SQLAlchemyAsyncConfig:
    """The advanced-alchemy config the app's plugin was built with."""
    config = application.plugins.get(SQLAlchemyPlugin).config
    found = config[0] if isinstance(config, list | tuple) else config
    assert isinstance(found, SQLAlchemyAsyncConfig)
    return found


def engine_of(application: Litestar) -> AsyncEngine:
    """The engine (and pool) the app's plugin created."""
    engine = application.state[db_config_of(application).engine_app_state_key]
    assert isinstance(engine, AsyncEngine)
    return engine


async def stored_full_name(db: AsyncConnection | AsyncSession, user_id: object) -> str:
    """``users.full_name`` as stored (ciphertext), read past the column's decrypting type."""
    found = await db.execute(text("SELECT full_name FROM users WHERE id = :id"), {"id": user_id})
    return str(found.scalar_one())


@dataclass(frozen=True)
class Executed:
    """One statement SQLAlchemy executed, and the isolation level its connection ran it at."""

    statement: str
    isolation_level: str | None


@contextmanager
def sqlalchemy_statements(engine: AsyncEngine) -> Iterator[list[Executed]]:
    """The statements SQLAlchemy itself executes on ``engine`` (and its option engines) meanwhile."""
    seen: list[Executed] = []

    def record(connection: Connection, _cursor: object, statement: str, *_: object) -> None:
        seen.append(Executed(statement, connection.get_execution_options().get("isolation_level")))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@asynccontextmanager
async def driver_statements(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """What asyncpg itself sends, by its first word (``SELECT``, ``UPDATE``, ``BEGIN``, ``COMMIT`` …), meanwhile.

    That is the statements run on the driver (``quoin.db.direct``) and the
    ``BEGIN``/``COMMIT`` of SQLAlchemy's transactions, on the connections the
    engine checks out meanwhile; SQLAlchemy's own statements (prepared
    statements) are not among them: ``sqlalchemy_statements`` has those.
    (With ``DB_POOL_PRE_PING`` on, the pings would be among them too.)
    """
    sent: list[str] = []
    hooked: list[asyncpg.Connection] = []

    def record(query: asyncpg.connection.LoggedQuery) -> None:
        sent.append(query.query.split(maxsplit=1)[0].rstrip(";").upper())

    def hook(_dbapi: object, _record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        driver = proxy.driver_connection
        if isinstance(driver, asyncpg.Connection) and driver not in hooked:
            driver.add_query_logger(record)
            hooked.append(driver)

    event.listen(engine.sync_engine, "checkout", hook)
    try:
        yield sent
        await asyncio.sleep(0)  # asyncpg tells its query loggers on the event loop's next turn
    finally:
        event.remove(engine.sync_engine, "checkout", hook)
        for driver in hooked:
            driver.remove_query_logger(record)


_DATABASE_VARIABLES = ("DATABASE_URL", "POSTGRES_", "SQLITE_PATH", "ENV", "PORT", "HOST", "METRICS_PORT")


def clean_environment() -> dict[str, str]:
    """This process's environment without the variables that choose a database, an environment or an address.

    For the ``quoin`` processes the tests spawn: they get the test's settings only, and a metrics port
    of their own, so that servers started at once (here or by another test run) never meet on the default.
    """
    own = {k: v for k, v in os.environ.items() if not k.startswith(_DATABASE_VARIABLES)}
    return {**own, "METRICS_PORT": str(free_port())}
