"""What clients see when things go wrong: races, failed commits, outages, crashes."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog
from litestar import get, post
from litestar.di import NamedDependency
from litestar.security.jwt import Token
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from quoin.config import Settings
from quoin.core.http.routes import PUBLIC
from quoin.core.security.encryption import FieldCipher, is_token
from tests.support.helpers import (
    PASSWORD,
    PRODUCTION,
    TOKEN,
    USERS,
    assert_problem,
    count_users,
    driver_statements,
    engine_of,
    make_account,
    running_app,
    sqlalchemy_statements,
    stored_full_name,
)
from tests.support.settings import make_settings


@pytest.mark.committing
async def test_twenty_concurrent_sign_ups_with_one_email_create_exactly_one_user(
    client: httpx.AsyncClient, db: AsyncConnection
) -> None:
    emails = [f"Racer@Example.com{' ' * (i % 3)}".upper() if i % 2 else "racer@example.com" for i in range(20)]

    responses = await asyncio.gather(*(client.post(USERS, json={"email": e, "password": PASSWORD}) for e in emails))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, detail="Email already registered")
    assert await count_users(db, "racer@example.com") == 1


@pytest.fixture
async def commit_fails_for_doomed_emails(db: AsyncConnection) -> None:
    """A deferred constraint trigger: inserts of ``doomed…`` emails fail only at COMMIT."""
    await db.execute(
        text(
            """
            CREATE FUNCTION reject_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.email LIKE 'doomed%' THEN
                    RAISE EXCEPTION 'commit-time failure for %', NEW.email USING ERRCODE = 'check_violation';
                END IF;
                RETURN NEW;
            END $$
            """
        )
    )
    await db.execute(
        text(
            "CREATE CONSTRAINT TRIGGER doomed_at_commit AFTER INSERT OR UPDATE ON users "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reject_doomed()"
        )
    )
    await db.commit()
    yield
    await db.execute(text("DROP TRIGGER doomed_at_commit ON users"))
    await db.execute(text("DROP FUNCTION reject_doomed()"))
    await db.commit()


@pytest.mark.committing
@pytest.mark.usefixtures("commit_fails_for_doomed_emails")
async def test_a_write_whose_commit_fails_never_answers_2xx_and_leaves_no_row(
    client: httpx.AsyncClient, db: AsyncConnection
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.post(USERS, json={"email": "doomed@example.com", "password": PASSWORD})

    problem = assert_problem(response, 500)
    assert "commit-time failure" not in response.text
    assert problem["detail"] == "An unexpected error occurred; it has been logged"
    assert await count_users(db, "doomed@example.com") == 0
    assert any(entry["event"] == "unhandled_exception" for entry in logs)


@pytest.mark.committing
@pytest.mark.usefixtures("commit_fails_for_doomed_emails")
async def test_an_update_whose_commit_fails_never_answers_2xx_and_changes_nothing(
    client: httpx.AsyncClient, db: AsyncConnection
) -> None:
    account = await make_account(client, email="survivor@example.com")

    response = await client.patch(account.path, json={"email": "doomed.survivor@example.com"}, headers=account.headers)

    assert_problem(response, 500)
    assert (await client.get(account.path, headers=account.headers)).json() == account.user


@pytest.mark.committing
async def test_a_patch_is_one_statement_committed_on_its_own_and_a_delete_is_a_transaction(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    account = await make_account(client)

    with sqlalchemy_statements(engine) as executed:
        async with driver_statements(engine) as sent_for_patch:
            patched = await client.patch(account.path, json={"full_name": "Once"}, headers=account.headers)
        async with driver_statements(engine) as sent_for_delete:
            deleted = await client.delete(account.path, headers=account.headers)

    assert (patched.status_code, deleted.status_code) == (200, 204)
    # Its single UPDATE needs no BEGIN/COMMIT around it (SQLAlchemy runs it: the suite traces every request).
    assert not {"BEGIN", "COMMIT"} & set(sent_for_patch)
    # The DELETE (find, then delete) is a transaction, its statements between these two (run by SQLAlchemy).
    assert sent_for_delete == ["BEGIN", "COMMIT"]
    writes = [(e.statement[:6], e.isolation_level) for e in executed if e.statement.startswith(("UPDATE", "DELETE"))]
    assert writes == [("UPDATE", "AUTOCOMMIT"), ("DELETE", None)]


@pytest.mark.committing
@pytest.mark.usefixtures("db")  # empties the table afterwards
async def test_untraced_a_patch_reads_its_caller_on_the_driver_and_updates_without_a_transaction(
    database_url: URL, settings: Settings
) -> None:
    # Production's path: no sampled trace, so the caller's row is read on the driver (quoin.db.direct).
    async with running_app(make_settings(database_url, OTEL_TRACES_SAMPLER_ARG="0")) as (app, client):
        account = await make_account(client, full_name="Before")
        engine = engine_of(app)
        with sqlalchemy_statements(engine) as run_by_sqlalchemy:
            async with driver_statements(engine) as sent:
                patched = await client.patch(
                    account.path, json={"full_name": "Katherine Johnson"}, headers=account.headers
                )
        read_back = await client.get(account.path, headers=account.headers)
        other = await make_account(client, email="other@example.com")
        taken = await client.patch(other.path, json={"email": account.user["email"]}, headers=other.headers)
        async with engine.connect() as connection:
            stored = await stored_full_name(connection, account.id)

    assert patched.status_code == 200
    assert sent == ["SELECT"]  # the caller, on the driver; no BEGIN, no COMMIT
    assert [(e.statement.split(maxsplit=1)[0], e.isolation_level) for e in run_by_sqlalchemy] == [
        ("UPDATE", "AUTOCOMMIT")
    ]
    assert read_back.json() == patched.json()
    assert patched.json()["full_name"] == "Katherine Johnson"
    assert_problem(taken, 409)
    assert is_token(stored)
    assert FieldCipher(settings.security.field_keys).decrypt(stored) == "Katherine Johnson"


async def test_an_unexpected_crash_is_a_generic_500_and_the_trace_goes_to_the_log(database_url: URL) -> None:
    @get("/boom", sync_to_thread=False, opt=PUBLIC)
    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    async with running_app(make_settings(database_url, **PRODUCTION)) as (app, client):
        app.register(boom)
        with structlog.testing.capture_logs() as logs:
            response = await client.get("/boom")

    problem = assert_problem(response, 500)
    assert problem["detail"] == "An unexpected error occurred; it has been logged"
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    crash = next(entry for entry in logs if entry["event"] == "unhandled_exception")
    assert isinstance(crash["exc_info"], RuntimeError)


async def test_with_the_database_unreachable_requests_fail_fast_with_503(unreachable_database: str) -> None:
    settings = make_settings(unreachable_database, DB_CONNECT_TIMEOUT="2", DB_POOL_TIMEOUT="2", DB_STARTUP_TIMEOUT="0")
    # A well-signed token: checking it needs the database, which is down.
    token = Token(sub=str(uuid.uuid4()), exp=datetime.now(UTC) + timedelta(minutes=5), jti="t")
    bearer = {"Authorization": f"Bearer {token.encode(settings.security.secret_key, 'HS256')}"}
    async with running_app(settings) as (_, client):
        started = time.monotonic()
        created = await client.post(USERS, json={"email": "down@example.com", "password": PASSWORD})
        logged_in = await client.post(TOKEN, data={"username": "down@example.com", "password": PASSWORD})
        me = await client.get(f"{USERS}me", headers=bearer)
        ready = await client.get("/health/ready")
        live = await client.get("/health/live")
        elapsed = time.monotonic() - started

    for response in (created, logged_in, me, ready):
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) > 0
    assert live.status_code == 200
    assert elapsed < 8, f"outage answers took {elapsed:.1f}s"


async def test_an_exhausted_pool_answers_503_after_the_pool_timeout(database_url: URL) -> None:
    settings = make_settings(database_url, DB_POOL_SIZE="1", DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="0.5")
    login = {"username": "nobody@example.com", "password": PASSWORD}
    async with running_app(settings) as (app, client):
        async with engine_of(app).connect() as hog:  # the pool's only connection, held
            await hog.execute(text("SELECT 1"))
            started = time.monotonic()
            starved = await client.post(TOKEN, data=login)
            waited = time.monotonic() - started
        after = await client.post(TOKEN, data=login)

    assert_problem(starved, 503)
    assert starved.headers["retry-after"]
    assert 0.4 < waited < 3, f"waited {waited:.2f}s for a pool timeout of 0.5s"
    assert_problem(after, 401)


async def test_a_connection_that_dies_before_the_session_closes_does_not_cut_the_answer(database_url: URL) -> None:
    @post("/dies-before-close", status_code=200, opt=PUBLIC)
    async def dies_before_close(db_session: NamedDependency[AsyncSession]) -> dict[str, int]:
        # A transaction is open on the request's connection; then its server process goes away.
        pid = (await db_session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine_of(app).connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"pid": pid}

    async with running_app(make_settings(database_url)) as (app, client):
        app.register(dies_before_close)
        with structlog.testing.capture_logs() as logs:
            response = await client.post("/dies-before-close")
        after = await client.get("/health/ready")

    assert response.status_code == 200
    assert "pid" in response.json()
    assert any(entry["event"] == "session_close_failed" for entry in logs), logs
    assert after.status_code == 200
