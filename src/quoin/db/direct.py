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
  statement. That is harmless for a read. A write runs on the driver only on
  an autocommit connection (``quoin.db.config``), where it is its own
  transaction: a failure left nothing behind, and the next statement is not
  in an aborted transaction. The writes here are idempotent ``UPDATE``
  statements, so one whose connection broke after the server applied it
  changes nothing more when run again. A write in a transactional session
  runs through SQLAlchemy, which also begins the transaction;
- a sampled trace runs it through SQLAlchemy, so the trace shows the SQL span;
- so does ``DB_ECHO`` (the ``sqlalchemy.engine`` logger at INFO), and any
  driver other than asyncpg (SQLite in development).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from opentelemetry import trace
from sqlalchemy import Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session

__all__ = ["DirectQuery"]

_SQL_LOG = logging.getLogger("sqlalchemy.engine")
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[tuple[str, Processor], ...]  # in positional order: (name, bind processor)
    columns: tuple[Processor, ...]  # result processor per selected column


def _traced_or_echoed() -> bool:
    return trace.get_current_span().is_recording() or _SQL_LOG.isEnabledFor(logging.INFO)


class DirectQuery:
    """A fixed ``SELECT`` or ``UPDATE … RETURNING`` (bind parameters by name), run on the driver when that is safe.

    An ``UPDATE`` given here must be idempotent (same values, same row): a
    failed one is run again (see the module's notes).
    """

    def __init__(self, statement: Select[Any] | Update) -> None:
        self._statement = statement
        self._writes = isinstance(statement, Update)
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
