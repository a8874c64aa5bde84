"""Classify database failures by what they mean, not by the wrapper they arrive in.

advanced-alchemy wraps driver errors (outages included) in its own
``IntegrityError``/``RepositoryError``, and asyncpg's unique violations lack
the DETAIL line its regex expects, so the only reliable signals are the
SQLSTATE codes and exception types on the cause chain.
"""

from __future__ import annotations

import errno
import sqlite3
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from quoin.core.errors import ConflictError, QuoinError, ServiceUnavailableError

__all__ = [
    "DRIVER_ERRORS",
    "ConnectionFailure",
    "connection_failure",
    "is_unique_violation",
    "original_error",
    "translate_database_error",
]

# What the driver raises on its own, outside SQLAlchemy: SQLAlchemy wraps errors of statements (and,
# since 2.1, those of connecting too), but a statement run on the driver (quoin.db.direct) or a
# connection closed under it can still raise asyncpg's own.
DRIVER_ERRORS: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError)

_UNIQUE_VIOLATION = "23505"
# Connection exceptions (08), insufficient resources (53: too many clients),
# operator intervention (57: shutdown, starting up, statement timeout),
# transaction rollbacks the client may retry (40001 serialization, 40P01
# deadlock), and the server refusing this app's login or database (28, 3D000),
# which only connecting meets: the database is unreachable for the app.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57", "40001", "40P01", "28", "3D000")


def _cause_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def original_error(exc: BaseException) -> BaseException:
    """The error a chain of wrappers started from (its first ``__cause__``): what the driver or the pool said.

    Since SQLAlchemy 2.1 a failure to connect arrives wrapped too (in a
    ``DBAPIError``, then in advanced-alchemy's ``IntegrityError``), whose own
    names say nothing of an outage.
    """
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_unique_violation(exc: BaseException) -> bool:
    """True when a unique constraint rejected the statement (PostgreSQL or SQLite)."""
    for error in _cause_chain(exc):
        if _sqlstate(error) == _UNIQUE_VIOLATION:
            return True
        if isinstance(error, sqlite3.IntegrityError) and error.sqlite_errorname in {
            "SQLITE_CONSTRAINT_UNIQUE",
            "SQLITE_CONSTRAINT_PRIMARYKEY",
        }:
            return True
    return False


def is_database_error(exc: BaseException) -> bool:
    """True when ``exc`` came from the database layer: SQLAlchemy, advanced-alchemy or the driver."""
    return any(isinstance(error, (sa_exc.SQLAlchemyError, *DRIVER_ERRORS)) for error in _cause_chain(exc)) or any(
        f"/{module}/" in frame.filename
        for frame in traceback.extract_tb(exc.__traceback__)
        for module in ("sqlalchemy", "asyncpg", "aiosqlite")
    )


def is_missing_table(exc: BaseException) -> bool:
    """True when a statement named a table the database does not have (PostgreSQL or SQLite): not migrated."""
    for error in _cause_chain(exc):
        if _sqlstate(error) == "42P01":
            return True
        if isinstance(error, sqlite3.OperationalError) and str(error).startswith("no such table"):
            return True
    return False


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, sa_exc.TimeoutError | OSError | TimeoutError):
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, asyncpg.PostgresConnectionError | asyncpg.ConnectionDoesNotExistError):
        return True
    state = _sqlstate(error)
    if state is not None and state.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
        return True
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def translate_database_error(exc: BaseException) -> QuoinError | None:
    """Map a database failure to the domain error a client should see, or None if it is a bug."""
    if is_unique_violation(exc):
        return ConflictError("A resource with the same unique value already exists")
    if any(_is_transient(error) for error in _cause_chain(exc)):
        return ServiceUnavailableError("The database is unavailable, retry later")
    return None


@dataclass(frozen=True, slots=True)
class ConnectionFailure:
    """Why the app could not connect, said for an operator; ``permanent`` failures are not worth retrying."""

    message: str
    permanent: bool


def connection_failure(exc: BaseException, url: URL) -> ConnectionFailure | None:
    """What went wrong connecting to ``url``, naming the settings to fix; None if ``exc`` is not about connecting."""
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    settings = "DATABASE_URL (or the POSTGRES_* settings)"
    by_sqlstate = {
        "28": (f"PostgreSQL at {where} refused the login of {url.username!r}: check user and password in {settings}",
               True),
        "3D000": (f"database {url.database!r} does not exist on {where}: create it, or fix its name in {settings}",
                  True),
        "57P03": (f"PostgreSQL at {where} is starting up or shutting down", False),
        "53300": (f"PostgreSQL at {where} has no connection slot left", False),
    }  # fmt: skip
    for error in _cause_chain(exc):
        state = _sqlstate(error) or ""
        for prefix, (message, permanent) in by_sqlstate.items():
            if state.startswith(prefix):
                return ConnectionFailure(message, permanent)
        if isinstance(error, TimeoutError | sa_exc.TimeoutError):
            return ConnectionFailure(f"PostgreSQL at {where} did not answer within DB_CONNECT_TIMEOUT", permanent=False)
        if isinstance(error, OSError):
            refused = isinstance(error, ConnectionRefusedError) or error.errno == errno.ECONNREFUSED
            reason = "connection refused" if refused else (error.strerror or str(error))
            return ConnectionFailure(
                f"nothing answers at {where} ({reason}): is PostgreSQL running there? Check {settings}", False
            )
    return None
