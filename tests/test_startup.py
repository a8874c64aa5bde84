"""Start-up ordering in production: wait for the database and the migration job; never migrate."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import inspect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import DatabaseFactory
from tests.helpers import PRODUCTION, clean_environment
from tests.postgres_server import free_port


class ServeProcess:
    """``quoin serve`` in production, its JSON log lines collected as they come."""

    def __init__(self, cwd: Path, database_url: URL | str, **env: str) -> None:
        url = database_url if isinstance(database_url, str) else database_url.render_as_string(hide_password=False)
        self.base = f"http://127.0.0.1:{free_port()}"
        clean = clean_environment()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "quoin", "serve"],
            cwd=cwd,
            env={**clean, **PRODUCTION, "DATABASE_URL": url, "PORT": self.base.rsplit(":", 1)[1], **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a process group of its own, which a test may signal as Ctrl-C does
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        self.lines.extend(self.process.stdout)

    def events(self, name: str) -> list[dict[str, object]]:
        """The JSON log events called ``name`` so far."""
        events = (json.loads(line) for line in list(self.lines) if line.startswith("{"))
        return [event for event in events if event["event"] == name]

    def wait_for_event(self, name: str, seconds: float = 20) -> dict[str, object]:
        """The first ``name`` event, waiting for it."""
        deadline = time.monotonic() + seconds
        while not (found := self.events(name)):
            assert self.process.poll() is None or self._reader.is_alive(), "".join(self.lines)
            assert time.monotonic() < deadline, f"no {name!r} within {seconds} s:\n{''.join(self.lines)}"
            time.sleep(0.05)
        return found[0]

    def stop(self) -> int:
        """SIGTERM (if still running) and the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        if self.process.stdout:
            self.process.stdout.close()
        return code


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
    assert "ConnectionRefusedError" in str(gave_up[0]["reason"])


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
