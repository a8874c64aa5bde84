"""Classify database failures by what they mean, not by the wrapper they arrive in.

advanced-alchemy wraps driver errors (outages included) in its own
``IntegrityError``/``RepositoryError``, and asyncpg's unique violations lack
the DETAIL line its regex expects, so the only reliable signals are the
SQLSTATE codes and exception types on the cause chain.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc as sa_exc

from quoin.core.errors import ConflictError, QuoinError, ServiceUnavailableError

__all__ = ["DRIVER_ERRORS", "is_unique_violation", "original_error", "translate_database_error"]

# What the driver raises on its own: SQLAlchemy wraps errors of statements, but
# not those of connecting (a server starting up or shutting down, too many
# clients, a refused password), which reach the app as asyncpg's own.
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
