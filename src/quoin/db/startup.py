"""Start-up ordering: wait for the database and its schema instead of crash-looping.

In a deployment the app, the database and the migration job start together.
An instance that starts first waits — bounded by ``DB_STARTUP_TIMEOUT``, with
backoff and a log line per attempt — until the database answers and holds the
schema this code was written for (Alembic's head). It never migrates itself
outside development; the migration job does. A database that is *ahead* of
this code (a newer release migrated it, this one is being rolled back or
replaced) is accepted with a warning: migrations are meant to be backwards
compatible for one release. A SIGTERM ends the wait at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from quoin.core.runtime.drain import DRAINING
from quoin.db.config import VERSION_TABLE
from quoin.db.errors import DRIVER_ERRORS, connection_failure
from quoin.db.migrations import alembic_config

__all__ = ["DatabaseNotReadyError", "database_waiter"]

_FIRST_DELAY = 0.25
_MAX_DELAY = 5.0

_log = structlog.get_logger("quoin.startup")


def _current_revisions(connection: Connection) -> set[str]:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return set(context.get_current_heads())


async def _stopped_during(seconds: float) -> bool:
    """Sleep ``seconds`` unless a SIGTERM arrives first (an orchestrator gave up on this instance)."""
    return await asyncio.to_thread(DRAINING.wait, seconds)


_CONNECTING_FAILURES: tuple[type[Exception], ...] = (SQLAlchemyError, *DRIVER_ERRORS, OSError, TimeoutError)


class DatabaseNotReadyError(RuntimeError):
    """Start-up gave up on the database; the message says why, for an operator."""


def database_waiter(db_config: SQLAlchemyAsyncConfig, timeout: float) -> Callable[[], Awaitable[None]]:
    """An ``on_startup`` hook that returns once the database is usable, or raises after ``timeout`` seconds."""

    async def wait_for_database() -> None:
        if timeout <= 0:
            return
        scripts = ScriptDirectory.from_config(alembic_config())
        wanted = set(scripts.get_heads())
        known = {revision.revision for revision in scripts.walk_revisions()}
        deadline = time.monotonic() + timeout
        delay = _FIRST_DELAY
        attempt = 0
        while True:
            attempt += 1
            try:
                async with db_config.get_engine().connect() as connection:
                    current = await connection.run_sync(_current_revisions)
            except _CONNECTING_FAILURES as exc:  # "not yet", unless it will never get better; a bug propagates
                failure = connection_failure(exc, db_config.get_engine().url)
                if failure is not None and failure.permanent:
                    _log.error("database refused; not retrying", reason=failure.message)
                    raise DatabaseNotReadyError(failure.message) from None
                reason = failure.message if failure else f"unreachable: {type(exc).__name__}"
            else:
                if current == wanted:
                    if attempt > 1:
                        _log.info("database ready", attempts=attempt)
                    return
                if current and not current <= known:
                    _log.warning("database schema is newer than this release", revisions=sorted(current))
                    return
                reason = f"schema at {sorted(current) or 'nothing'}, waiting for migrations to {sorted(wanted)}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _log.error("database not ready; giving up", attempts=attempt, reason=reason, timeout=timeout)
                raise DatabaseNotReadyError(f"database not ready after {timeout:g} s: {reason}")
            pause = min(delay, remaining)
            _log.warning("database not ready; retrying", attempt=attempt, reason=reason, retry_in=round(pause, 2))
            if await _stopped_during(pause):
                _log.info("stopped while waiting for the database")
                raise DatabaseNotReadyError("stopped while waiting for the database")
            delay = min(delay * 2, _MAX_DELAY)

    return wait_for_database
