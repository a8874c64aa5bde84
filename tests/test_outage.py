"""A real PostgreSQL stopped and restarted under a running app: fail fast, then recover alone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quoin.db.migrations import upgrade_to_head
from tests.conftest import make_settings
from tests.helpers import PASSWORD, TOKEN, USERS, assert_problem, running_app
from tests.postgres_server import PrivatePostgres


@pytest.fixture
def own_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of this test's own, so stopping it disturbs nothing else."""
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def migrated(own_postgres: PrivatePostgres) -> str:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{own_postgres.port}/postgres"
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_to_head)
    await engine.dispose()
    return url


async def timed(client: httpx.AsyncClient, method: str, path: str, **kwargs: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    return response, time.monotonic() - started


async def test_postgres_down_means_fast_503s_and_back_up_means_recovery_without_restart(
    own_postgres: PrivatePostgres, migrated: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(migrated, DB_POOL_TIMEOUT="3", DB_CONNECT_TIMEOUT="3", HEALTH_DB_TIMEOUT="2")
    timeline: list[str] = []
    async with running_app(settings) as (_, client):
        created, took = await timed(client, "POST", USERS, json={"email": "outage@example.com", "password": PASSWORD})
        assert created.status_code == 201
        timeline.append(f"up:       sign-up 201 in {took * 1000:.0f} ms")

        own_postgres.stop_server(mode="fast")
        for method, path, kwargs in [
            ("POST", TOKEN, {"data": {"username": "outage@example.com", "password": PASSWORD}}),
            ("POST", USERS, {"json": {"email": "during@example.com", "password": PASSWORD}}),
            ("GET", "/health/ready", {}),
        ]:
            response, took = await timed(client, method, path, **kwargs)
            timeline.append(f"down:     {method} {path} {response.status_code} in {took * 1000:.0f} ms")
            assert_problem(response, 503)
            assert int(response.headers["retry-after"]) > 0
            assert took < 3.5, f"{path} took {took:.2f}s, longer than the pool timeout"
        live, took = await timed(client, "GET", "/health/live")
        timeline.append(f"down:     GET /health/live {live.status_code} in {took * 1000:.0f} ms")
        assert live.status_code == 200

        restarted = time.monotonic()
        own_postgres.start_server()
        timeline.append(f"restart:  PostgreSQL accepting again after {(time.monotonic() - restarted) * 1000:.0f} ms")
        ready, took = await timed(client, "GET", "/health/ready")
        timeline.append(f"recovered: GET /health/ready {ready.status_code} in {took * 1000:.0f} ms")
        login, took = await timed(client, "POST", TOKEN, data={"username": "outage@example.com", "password": PASSWORD})
        timeline.append(f"recovered: POST {TOKEN} {login.status_code} in {took * 1000:.0f} ms")

    with capsys.disabled():
        print("\n  outage timeline:\n    " + "\n    ".join(timeline))
    assert ready.status_code == 200
    assert login.status_code == 200
