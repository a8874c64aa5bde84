"""A real PostgreSQL stopped, restarted, refusing or full under a running app: 503s, never a 500, then recovery.

Connect-time refusals (SQLSTATE 57P03 "starting up", 53300 "too many clients")
reach the app as the driver's own exceptions, outside SQLAlchemy's wrapping;
each test here meets them on a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
import structlog
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quoin.db.migrations import upgrade_to_head
from tests.support.helpers import PASSWORD, TOKEN, USERS, Account, assert_problem, engine_of, make_account, running_app
from tests.support.postgres_server import PrivatePostgres
from tests.support.settings import make_settings

# Starts servers or processes of its own: left out of the fast tier (-m "not process").
pytestmark = pytest.mark.process


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


def _exercise(client: httpx.AsyncClient, account: Account, tag: str) -> list[tuple[str, object]]:
    """One of each kind of database use: the caller lookup and a read, a write, sign-up, login, readiness."""
    return [
        ("GET me", client.get(f"{USERS}me", headers=account.headers)),
        ("PATCH", client.patch(account.path, json={"full_name": tag}, headers=account.headers)),
        ("sign-up", client.post(USERS, json={"email": f"{tag}@example.com", "password": PASSWORD})),
        ("login", client.post(TOKEN, data={"username": account.user["email"], "password": PASSWORD})),
        ("ready", client.get("/health/ready")),
    ]


def _assert_unavailable(responses: dict[str, httpx.Response]) -> None:
    for response in responses.values():
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) > 0


async def test_a_server_that_refuses_connections_while_starting_up_answers_503_everywhere(
    own_postgres: PrivatePostgres, migrated: str
) -> None:
    settings = make_settings(migrated, DB_POOL_SIZE="2", DB_CONNECT_TIMEOUT="3", DB_POOL_TIMEOUT="3")
    async with running_app(settings) as (_, client):
        account = await make_account(client)
        own_postgres.stop_server(mode="fast")
        own_postgres.start_refusing_connections()
        try:
            with structlog.testing.capture_logs() as logs:
                # Twice: the pool's connections died with the old server, then new ones are refused.
                for round_ in range(2):
                    named = _exercise(client, account, f"refused-{round_}")
                    results = await asyncio.gather(*(request for _, request in named))  # type: ignore[call-overload]
                    _assert_unavailable(dict(zip([name for name, _ in named], results, strict=True)))
        finally:
            own_postgres.stop_server()
        own_postgres.start_server()
        recovered = await client.get(f"{USERS}me", headers=account.headers)

    refusals = [e for e in logs if e["event"] == "database_unavailable" and "CannotConnectNow" in e["error"]]
    assert refusals, [e.get("error") for e in logs]
    assert recovered.status_code == 200


async def test_a_server_with_no_connection_slot_left_answers_503_then_serves_again(
    own_postgres: PrivatePostgres,
) -> None:
    own_postgres.stop_server(mode="fast")
    own_postgres.start_server("max_connections=4", "superuser_reserved_connections=0")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{own_postgres.port}/postgres"
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_to_head)
    await engine.dispose()
    settings = make_settings(url, DB_POOL_SIZE="2", DB_CONNECT_TIMEOUT="3", DB_POOL_TIMEOUT="3")
    async with running_app(settings) as (app, client):
        account = await make_account(client)
        await engine_of(app).dispose()  # the app's pool gives back its connections; the hogs take every slot
        dsn = f"postgresql://postgres@127.0.0.1:{own_postgres.port}/postgres"
        hogs = []
        with contextlib.suppress(asyncpg.TooManyConnectionsError):
            while len(hogs) < 4:  # every slot left (the app's change listener keeps one)
                hogs.append(await asyncpg.connect(dsn))
        try:
            with structlog.testing.capture_logs() as logs:
                named = _exercise(client, account, "full")
                results = await asyncio.gather(*(request for _, request in named))  # type: ignore[call-overload]
        finally:
            for hog in hogs:
                await hog.close()
        recovered = await client.get(f"{USERS}me", headers=account.headers)

    _assert_unavailable(dict(zip([name for name, _ in named], results, strict=True)))
    assert any("TooManyConnections" in e.get("error", "") for e in logs), [e.get("error") for e in logs]
    assert recovered.status_code == 200


async def test_an_immediate_restart_under_light_load_answers_503_at_worst_never_500(
    own_postgres: PrivatePostgres, migrated: str
) -> None:
    # Commits durable when acknowledged, as in production: an immediate stop loses none of them.
    own_postgres.stop_server(mode="fast")
    own_postgres.start_server("synchronous_commit=on")
    settings = make_settings(migrated, DB_POOL_SIZE="4", DB_CONNECT_TIMEOUT="3", DB_POOL_TIMEOUT="3")
    seen: list[tuple[str, httpx.Response]] = []
    async with running_app(settings) as (_, client):
        account = await make_account(client)
        stop = asyncio.Event()

        async def light_load(worker: int) -> None:
            round_ = 0
            while not stop.is_set():
                named = _exercise(client, account, f"load-{worker}-{round_}")
                for name, request in named:
                    seen.append((name, await request))  # type: ignore[misc]
                round_ += 1

        workers = [asyncio.create_task(light_load(worker)) for worker in range(4)]
        await asyncio.sleep(0.5)
        await asyncio.to_thread(own_postgres.stop_server, "immediate")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(own_postgres.start_server, "synchronous_commit=on")
        await asyncio.sleep(1.0)
        before_end = len(seen)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*workers)

    statuses = {response.status_code for _, response in seen}
    assert statuses <= {200, 201, 409, 503}, sorted(statuses)
    for _, response in seen:
        if response.status_code == 503:
            assert_problem(response, 503)
            assert int(response.headers["retry-after"]) > 0
    assert any(response.status_code == 503 for _, response in seen), "the outage was never seen"
    settled = seen[before_end:]
    assert settled, "no request ran after the restart"
    assert all(response.status_code in {200, 201} for _, response in settled), [
        (name, response.status_code) for name, response in settled
    ]
