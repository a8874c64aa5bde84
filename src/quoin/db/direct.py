"""Hot statements run straight on the driver: Core compiled once, its values typed by its own SQLAlchemy types.

Executing a statement through SQLAlchemy (execution context, cursor adapter,
``Result``) costs about 0.2 ms of CPU here — more than routing, validating
and serialising the whole request. For the few fixed-shape statements that
requests make over and over (the caller on every request, a user by id, the
``UPDATE … RETURNING`` of a PATCH), ``DirectQuery`` compiles the statement
once per dialect and runs it with asyncpg's ``fetchrow`` on the session's own
pooled connection. Each bound value and each column still goes through its
type's processors (UUIDs, UTC datetimes, encryption), so rows are exactly
what SQLAlchemy would return.

Everything else stays with SQLAlchemy, and so does every case where it does
more than run the statement:

- a failed statement is run again through SQLAlchemy, which classifies the
  error and, for a connection that died, invalidates the pool as for any
  statement (on a dead connection the re-run fails at once). For a read that
  is harmless; inside a transaction a server error has aborted it, so the
  re-run reports that instead, still as an error answer. A write runs on the
  driver only on an autocommit connection (``quoin.db.config``), where it is
  its own transaction: a server error left nothing behind, so the re-run
  meets the same error (a taken email: 409). Only a client-side failure on a
  live connection could see a write applied twice; the writes given here are
  idempotent ``UPDATE … RETURNING`` statements, with every value bound
  (``updated_at`` too), so that leaves the same row. A write in a
  transactional session runs through SQLAlchemy, which also begins the
  transaction;
- a task cancelled while its statement runs leaves the connection in an
  unknown state: it is invalidated, as SQLAlchemy does;
- a sampled trace runs it through SQLAlchemy, so the trace shows the SQL span;
- so does ``DB_ECHO`` (the ``sqlalchemy.engine`` logger at INFO), and any
  driver other than asyncpg (SQLite in development).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from opentelemetry import trace
from sqlalchemy import Select, Update
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

__all__ = ["DirectQuery"]

_SQL_LOG = logging.getLogger("sqlalchemy.engine")
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[tuple[str, Processor], ...]  # in positional order: (name, bind processor)
    columns: tuple[Processor, ...]  # result processor per selected or RETURNING column


def _traced_or_echoed() -> bool:
    return trace.get_current_span().is_recording() or _SQL_LOG.isEnabledFor(logging.INFO)


class DirectQuery:
    """A fixed ``SELECT`` or ``UPDATE … RETURNING`` (bind parameters by name), run on the driver when that is safe.

    An ``UPDATE`` given here must be idempotent (same values, same row): a
    failed one is run again (see the module's notes). One without
    ``RETURNING``, or leaving a value for SQLAlchemy to compute in Python
    (an ``onupdate`` such as ``updated_at``), is refused here: the driver
    would run it differently from SQLAlchemy.
    """

    def __init__(self, statement: Select[*tuple[Any, ...]] | Update) -> None:
        self._writes = isinstance(statement, Update)
        if isinstance(statement, Update):
            _check_write(statement)
        self._statement = statement
        self._compiled: dict[Dialect, _Compiled] = {}

    async def first(
        self, session: AsyncSession | async_scoped_session[AsyncSession], params: Mapping[str, Any]
    ) -> Sequence[Any] | None:
        """The first row's values (in the statement's column order), or None."""
        connection = await session.connection()
        dialect = connection.dialect
        if dialect.driver != "asyncpg" or _traced_or_echoed():
            return (await connection.execute(self._statement, params)).first()
        raw = await connection.get_raw_connection()
        if self._writes and not getattr(raw.dbapi_connection, "autocommit", False):
            return (await connection.execute(self._statement, params)).first()
        driver = cast("asyncpg.Connection", raw.driver_connection)
        compiled = self._compiled.get(dialect) or self._compile(dialect)
        args = [params[name] if bind is None else bind(params[name]) for name, bind in compiled.params]
        try:
            record = await driver.fetchrow(compiled.sql, *args)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError):
            return (await connection.execute(self._statement, params)).first()
        except asyncio.CancelledError:
            await connection.invalidate()
            raise
        if record is None:
            return None
        pairs = zip(compiled.columns, record, strict=True)
        return [value if process is None else process(value) for process, value in pairs]

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect)
        binds = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        )
        columns = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self._statement.exported_columns  # the selected or the RETURNING columns
        )
        self._compiled[dialect] = _Compiled(compiled.string, binds, columns)
        return self._compiled[dialect]


def _check_write(statement: Update) -> None:
    if not statement.exported_columns:
        raise ValueError("DirectQuery runs UPDATE … RETURNING only: it answers the first returned row")
    compiled = statement.compile(dialect=PGDialect())  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
    if computed := [column.key for column in (*compiled.insert_prefetch, *compiled.update_prefetch)]:
        raise ValueError(f"DirectQuery needs every value bound; SQLAlchemy would compute {computed} in Python")
