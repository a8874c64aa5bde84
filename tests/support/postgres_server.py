"""A throwaway PostgreSQL server started from the local binaries, for the test session.

It lives in a temporary directory, listens only on 127.0.0.1 on a free port,
runs with durability off (it is thrown away), and is stopped and deleted at the
end. As root (CI), the server runs as the ``postgres`` user, because
``initdb`` refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quoin.db.migrations import upgrade_to_head

__all__ = ["DatabaseFactory", "PrivatePostgres", "find_binary", "free_port", "postgres_for_databases"]


def find_binary(name: str) -> str:
    """``name`` on PATH, else from the newest ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL binary {name!r} not found on PATH or in /usr/lib/postgresql/*/bin; "
            "install PostgreSQL or set TEST_DATABASE_URL"
        )
    return candidates[-1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """Start with ``start()`` (returns the server URL), stop with ``stop()``."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="quoin-test-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root needs a 'postgres' user to own the test server") from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
            if runuser is None:
                raise RuntimeError("running as root needs 'runuser' to start the test server as 'postgres'")
            self._as_user = [runuser, "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as_user, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.root / "server.log"
            server_log = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}{result.stderr}{server_log}")

    def start(self) -> str:
        """Create and start the cluster; return its URL (user ``postgres``, trust auth)."""
        self._run(
            find_binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        self.start_server()
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start_server(self, *settings: str, wait: bool = True) -> None:
        """Start (or restart) the server process on the existing cluster, same port.

        ``settings`` are extra ``-c name=value`` server settings; without ``wait``,
        pg_ctl returns before the server accepts connections (a standby never does).
        """
        options = " ".join(
            (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}",
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                *(f"-c {setting}" for setting in settings),
            )
        )
        self._run(
            find_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w" if wait else "-W", "-t", "60", "start",
        )  # fmt: skip

    def start_refusing_connections(self) -> None:
        """Start as a standby that never opens for clients: every connection gets SQLSTATE 57P03.

        Returns once the server answers with that refusal (pg_isready's "rejecting connections").
        """
        (self.data / "standby.signal").touch()
        self.start_server("hot_standby=off", wait=False)
        ready = [find_binary("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"]
        deadline = time.monotonic() + 30
        while subprocess.run(ready, capture_output=True, check=False).returncode != 1:  # 1: rejecting
            if time.monotonic() > deadline:
                raise RuntimeError("the standby never answered with a refusal")
            time.sleep(0.05)

    def stop_server(self, mode: str = "immediate") -> None:
        """Stop the server process, keeping the cluster (``fast`` closes sessions cleanly); no longer a standby."""
        if (self.data / "postmaster.pid").exists():
            self._run(find_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
        (self.data / "standby.signal").unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop the server and delete its files."""
        try:
            self.stop_server()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class DatabaseFactory:
    """Creates uniquely named databases on the test server and drops them all at the end."""

    def __init__(self, server: URL) -> None:
        self.server = server
        self.created: list[str] = []

    async def _admin(self, statement: str) -> None:
        engine = create_async_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    async def create(self, *, migrated: bool) -> URL:
        """A new empty database, optionally migrated to head."""
        name = f"quoin_test_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        url = self.server.set(database=name)
        if migrated:
            engine = create_async_engine(url, poolclass=NullPool)
            try:
                async with engine.begin() as connection:
                    await connection.run_sync(upgrade_to_head)
            finally:
                await engine.dispose()
        return url

    async def drop_all(self) -> None:
        """Drop every database this factory created."""
        for name in self.created:
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_for_databases() -> Iterator[URL]:
    """A server to create databases on: ``TEST_DATABASE_URL``'s, else a private one, stopped and deleted afterwards."""
    if configured := os.environ.get("TEST_DATABASE_URL"):
        url = make_url(configured)
        yield url.set(drivername="postgresql+asyncpg") if url.drivername in {"postgres", "postgresql"} else url
        return
    server = PrivatePostgres()
    try:
        yield make_url(server.start())
    finally:
        server.stop()
