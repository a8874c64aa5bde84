"""Shared fixtures: a real PostgreSQL, the migrated schema, one app, and per-test isolation.

PostgreSQL comes from ``TEST_DATABASE_URL`` (a server the suite may create
databases on) or from a private throwaway server started from the local
binaries. Either way the suite works only in a database it created itself and
drops at the end. Each test runs inside an outer transaction that is rolled
back; the app's commits become savepoint releases. Tests marked
``committing`` use the real pool instead and get emptied tables afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from quoin.app import create_app
from quoin.config import Settings
from tests.support.expectations import World, registered
from tests.support.helpers import db_config_of, engine_of, make_account
from tests.support.logs import LogCapture
from tests.support.loopback_cluster import CLUSTER_SETTINGS, LoopbackCluster
from tests.support.postgres_server import DatabaseFactory, free_port, postgres_for_databases
from tests.support.redis_server import PrivateRedis
from tests.support.settings import make_settings


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[URL]:
    """URL of a PostgreSQL server on which the suite may create its own databases."""
    with postgres_for_databases() as url:
        yield url


@pytest.fixture(scope="session")
async def databases(postgres_server: URL) -> AsyncIterator[DatabaseFactory]:
    """Factory for extra databases (migration tests); cleaned up at the end of the session."""
    factory = DatabaseFactory(postgres_server)
    try:
        yield factory
    finally:
        await factory.drop_all()


@pytest.fixture(scope="session")
async def database_url(databases: DatabaseFactory) -> URL:
    """The main test database, migrated with the project's real migrations."""
    return await databases.create(migrated=True)


@pytest.fixture(scope="module")
async def own_database(databases: DatabaseFactory) -> URL:
    """A migrated database of the test module's own, for apps that commit through their own pools."""
    return await databases.create(migrated=True)


@pytest.fixture(scope="session")
def settings(database_url: URL) -> Settings:
    """Settings of the shared test app."""
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Litestar]:
    """One app for the whole session, its lifespan (engine, pool) running."""
    application = create_app(settings)
    async with LifespanManager(application):  # type: ignore[arg-type]
        yield application


@pytest.fixture(scope="session")
def engine(app: Litestar) -> AsyncEngine:
    """The app's own engine (and pool)."""
    return engine_of(app)


@pytest.fixture
async def db(app: Litestar, engine: AsyncEngine, request: pytest.FixtureRequest) -> AsyncIterator[AsyncConnection]:
    """A connection for the test's own queries; everything the app writes meanwhile is rolled back.

    Under the ``committing`` marker the app keeps its real pool and the users
    table is emptied afterwards instead.
    """
    if request.node.get_closest_marker("committing"):
        async with engine.connect() as connection:
            try:
                yield connection
            finally:
                await connection.rollback()
                await connection.execute(text("TRUNCATE users CASCADE"))
                await connection.commit()
        return
    config = db_config_of(app)
    original: async_sessionmaker[Any] = app.state[config.session_maker_app_state_key]
    async with engine.connect() as connection:
        outer = await connection.begin()
        app.state[config.session_maker_app_state_key] = async_sessionmaker(
            **{**original.kw, "bind": connection, "join_transaction_mode": "create_savepoint"}
        )
        try:
            yield connection
        finally:
            app.state[config.session_maker_app_state_key] = original
            await outer.rollback()


@pytest.fixture
async def client(app: Litestar, db: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, on the test's event loop."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def logs(app: Litestar) -> Iterator[LogCapture]:
    """The app's log lines during the test, as its stdout handler renders them."""
    root = logging.getLogger()
    app_handler = next(h for h in root.handlers if not isinstance(h, LogCapture) and h.formatter is not None)
    capture = LogCapture(app_handler.formatter)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)


@pytest.fixture
def unreachable_database() -> str:
    """A PostgreSQL URL where nothing listens."""
    return f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/quoin"


@pytest.fixture
async def world(client: httpx.AsyncClient, settings: Settings) -> World:
    """A victim user, given something by every feature (``give_victim``), for the access tests."""
    victim = await make_account(client)
    owned = {name: value for e in registered() for name, value in (await e.give_victim(client, victim)).items()}
    return World(victim=victim, owned=owned, settings=settings)


@pytest.fixture(scope="module")
def cluster_redis() -> Iterator[PrivateRedis]:
    """The cluster's Redis (a test may stop and restart it)."""
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
async def cluster(
    databases: DatabaseFactory, cluster_redis: PrivateRedis, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LoopbackCluster]:
    """PostgreSQL, Redis, three instances and HAProxy, all private to the test module."""
    url = await databases.create(migrated=True)
    running = LoopbackCluster(
        workdir=tmp_path_factory.mktemp("cluster"),
        database_url=url.render_as_string(hide_password=False),
        redis_url=cluster_redis.url,
        settings=CLUSTER_SETTINGS,
    )
    try:
        await asyncio.to_thread(running.start)
        yield running
    finally:
        await asyncio.to_thread(running.stop)


@pytest.fixture
def redis_url() -> Iterator[tuple[str, PrivateRedis | None]]:
    """A Redis only these tests use: TEST_REDIS_URL if given, else a private server from local binaries."""
    if configured := os.environ.get("TEST_REDIS_URL"):
        yield configured, None
        return
    try:
        server = PrivateRedis()
    except FileNotFoundError:
        pytest.skip("needs redis-server on PATH (or TEST_REDIS_URL) for the shared-limit tests")
    server.start()
    try:
        yield server.url, server
    finally:
        server.remove()
