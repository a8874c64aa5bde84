"""Hot reads run straight on the driver: a Core ``SELECT`` compiled once, its values typed by its own SQLAlchemy types.

Executing a statement through SQLAlchemy (execution context, cursor adapter,
``Result``) costs more CPU here than routing, validating and serialising the
whole request (docs/performance.md). For a fixed-shape hot read
(``GET /users/{id}``, which is also the caller when not remembered), ``DirectQuery``
compiles the statement once per dialect and runs it with asyncpg's
``fetchrow`` on the session's own pooled connection. Each bound value and
each column still goes through its type's processors (UUIDs, UTC datetimes,
encryption), so rows are exactly what SQLAlchemy would return. Only public
SQLAlchemy API is used: the compiled statement's expanded state (its SQL and
positional parameter order) and the types' own bind and result processors.

Everything else stays with SQLAlchemy, and so does every case where it does
more than run the statement:

- a failed statement is run again through SQLAlchemy, which classifies the
  error and, for a connection that died, invalidates the pool as for any
  statement (on a dead connection the re-run fails at once). A read changes
  nothing, so running it twice is harmless; inside a transaction a server
  error has aborted it, so the re-run reports that instead, still as an
  error answer;
- a task cancelled while its statement runs leaves the connection in an
  unknown state: it is invalidated, as SQLAlchemy does;
- a sampled trace runs it through SQLAlchemy, so the trace shows the SQL span;
- so does ``DB_ECHO`` (the ``sqlalchemy.engine`` logger at INFO), and any
  driver other than asyncpg (SQLite in development).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from opentelemetry import trace
from sqlalchemy import BindParameter, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_scoped_session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["DirectQuery"]

_SQL_LOG = logging.getLogger("sqlalchemy.engine")
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[tuple[str, Processor], ...]  # in positional order: (name, bind processor)
    columns: tuple[tuple[str, Processor], ...]  # per selected column: (key, result processor)


def _traced_or_echoed() -> bool:
    return trace.get_current_span().is_recording() or _SQL_LOG.isEnabledFor(logging.INFO)


class DirectQuery:
    """A fixed ``SELECT`` with named bind parameters, run on the driver when that is safe (see the module's notes)."""

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self._statement = statement
        self._binds = {bind.key: bind for bind in visitors.iterate(statement) if isinstance(bind, BindParameter)}
        if anonymous := [bind.key for bind in self._binds.values() if bind.unique]:
            raise ValueError(f"DirectQuery binds named parameters only (bindparam('name')); got values {anonymous}")
        self._compiled: dict[Dialect, _Compiled] = {}

    async def first(
        self, session: AsyncSession | async_scoped_session[AsyncSession], params: Mapping[str, Any]
    ) -> Mapping[Any, Any] | None:
        """The first row, by column name, or None."""
        connection = await session.connection()
        dialect = connection.dialect
        if dialect.driver != "asyncpg" or _traced_or_echoed():
            row = (await connection.execute(self._statement, params)).first()
            return None if row is None else row._mapping
        raw = await connection.get_raw_connection()
        driver = cast("asyncpg.Connection", raw.driver_connection)
        compiled = self._compiled.get(dialect) or self._compile(dialect)
        args = [params[name] if bind is None else bind(params[name]) for name, bind in compiled.params]
        try:
            record = await driver.fetchrow(compiled.sql, *args)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError):
            row = (await connection.execute(self._statement, params)).first()
            return None if row is None else row._mapping
        except asyncio.CancelledError:
            await connection.invalidate()
            raise
        if record is None:
            return None
        pairs = zip(compiled.columns, record, strict=True)
        return {key: value if process is None else process(value) for (key, process), value in pairs}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError(f"{dialect.name} does not compile SQL")
        # The SQL as the driver receives it and the order of its positional parameters (their values play no part).
        expanded = compiled.construct_expanded_state(dict.fromkeys(self._binds))
        params = tuple(
            (name, self._binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in expanded.positiontup or ()
        )
        columns = tuple(
            (key, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for key, column in self._statement.selected_columns.items()
        )
        self._compiled[dialect] = _Compiled(expanded.statement, params, columns)
        return self._compiled[dialect]
