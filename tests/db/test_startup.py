"""Start-up ordering in production: wait for the database and the migration job; never migrate."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.support.helpers import PRODUCTION, clean_environment
from tests.support.postgres_server import DatabaseFactory
from tests.support.serve import ServeProcess

# Starts servers or processes of its own: left out of the fast tier (-m "not process").
pytestmark = pytest.mark.process


async def _tables(url: URL) -> set[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_in_production_serve_waits_for_the_migration_job_and_never_migrates_itself(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    url = await databases.create(migrated=False)
    server = ServeProcess(tmp_path, url, DB_STARTUP_TIMEOUT="60", DRAIN_SECONDS="0")
    try:
        waiting = await asyncio.to_thread(server.wait_for_event, "database not ready; retrying")
        await asyncio.sleep(1.5)  # a few more attempts: still nothing migrated, nothing listening
        tables_while_waiting = await _tables(url)
        with_no_listener = await asyncio.to_thread(_connect_error, server.base)

        env = clean_environment()
        migration = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "quoin", "database", "upgrade", "--no-prompt"],
            cwd=tmp_path, env={**env, **PRODUCTION, "DATABASE_URL": url.render_as_string(hide_password=False)},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        ready = await asyncio.to_thread(server.wait_for_event, "database ready")
        readiness = await asyncio.to_thread(_get_when_up, f"{server.base}/health/ready")
    finally:
        code = await asyncio.to_thread(server.stop)

    assert "schema at nothing" in str(waiting["reason"])
    assert tables_while_waiting == set()
    assert with_no_listener
    assert migration.returncode == 0, migration.stdout + migration.stderr
    assert int(str(ready["attempts"])) >= 3
    assert readiness.status_code == 200
    assert code == 0


def test_serve_gives_up_with_an_error_when_the_database_never_answers(
    tmp_path: Path, unreachable_database: str
) -> None:
    server = ServeProcess(tmp_path, unreachable_database, DB_STARTUP_TIMEOUT="2", DB_CONNECT_TIMEOUT="1")
    code = server.process.wait(timeout=60)
    server.stop()

    retries = server.events("database not ready; retrying")
    gave_up = server.events("database not ready; giving up")
    waited = datetime.fromisoformat(str(gave_up[0]["timestamp"])) - datetime.fromisoformat(str(retries[0]["timestamp"]))
    assert code != 0
    assert waited < timedelta(seconds=3)  # the 2 s budget, counted from the first attempt
    assert len(retries) >= 2
    assert [r["retry_in"] for r in retries[:2]] == [0.25, 0.5]
    assert "nothing answers at 127.0.0.1:" in str(gave_up[0]["reason"])
    assert "(connection refused)" in str(gave_up[0]["reason"])
    assert all(line.startswith("{") for line in server.lines), "".join(server.lines)  # JSON lines only
    assert "Traceback" not in "".join(server.lines)


def test_serve_does_not_retry_a_database_that_does_not_exist(tmp_path: Path, database_url: URL) -> None:
    missing = database_url.set(database="no_such_database")
    server = ServeProcess(tmp_path, missing, DB_STARTUP_TIMEOUT="30")
    code = server.process.wait(timeout=20)  # well within the start-up budget: nothing to wait for
    server.stop()

    [refused] = server.events("database refused; not retrying")
    assert code != 0
    assert server.events("database not ready; retrying") == []
    assert str(refused["reason"]).startswith("database 'no_such_database' does not exist on 127.0.0.1:")
    assert all(line.startswith("{") for line in server.lines), "".join(server.lines)
    assert "Traceback" not in "".join(server.lines)


def _connect_error(base: str) -> bool:
    try:
        httpx.get(f"{base}/health/live", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def _get_when_up(url: str) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.ConnectError:
            assert time.monotonic() < deadline, f"{url} not listening within 20 s"
            time.sleep(0.05)


def test_sigterm_ends_the_wait_for_the_database_at_once(tmp_path: Path, unreachable_database: str) -> None:
    server = ServeProcess(tmp_path, unreachable_database, DB_STARTUP_TIMEOUT="600")
    server.wait_for_event("database not ready; retrying")
    server.process.terminate()
    code = server.process.wait(timeout=20)  # not the 600 s budget
    server.stop()

    assert code != 0
    assert server.events("stopped while waiting for the database")
