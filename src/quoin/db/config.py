"""The advanced-alchemy plugin configuration: engine, pool, session and Alembic."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import structlog
from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
    async_default_handler_maker,
)

# advanced-alchemy's helpers for its per-request scope state, from a private module: it has no public way to
# choose a request's session, and its session-closing hook finds the session only where these helpers put it.
# (SQLAlchemy's public per-connection option, as quoin.db.transactions uses, needs an await before the first
# statement, which a synchronous provider cannot give.)
from advanced_alchemy.extensions.litestar._utils import get_aa_scope_state, set_aa_scope_state
from litestar.datastructures import State
from litestar.types import BeforeMessageSendHookHandler, Message, Scope
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from quoin.config import DatabaseSettings
from quoin.db.errors import DRIVER_ERRORS
from quoin.db.pool import FairQueuePool

__all__ = [
    "ALEMBIC_INI",
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "QuoinSQLAlchemyConfig",
    "sqlalchemy_config",
]


def _project_root() -> Path:
    """The folder holding ``alembic.ini``: the source checkout, else the working directory."""
    checkout = Path(__file__).resolve().parents[3]
    return checkout if (checkout / "alembic.ini").is_file() else Path.cwd()


ALEMBIC_INI = _project_root() / "alembic.ini"
MIGRATIONS_DIR = ALEMBIC_INI.parent / "migrations"
VERSION_TABLE = "alembic_versions"


def _engine_config(settings: DatabaseSettings) -> EngineConfig:
    connect_args: dict[str, Any] = {"timeout": settings.db_connect_timeout}
    if not settings.is_sqlite:
        connect_args["server_settings"] = {"application_name": "quoin"}
    return EngineConfig(
        poolclass=FairQueuePool,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,  # type: ignore[arg-type]  # SQLAlchemy accepts float seconds
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_args=connect_args,
        # DB_ECHO raises the "sqlalchemy.engine" logger level instead of echo=True,
        # which would attach a second, plain-text handler.
        # Parameters (emails, password hashes) never reach logs or error messages.
        hide_parameters=True,
    )


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


EngineHook = Callable[[AsyncEngine], None]


def _engine_factory(hooks: Sequence[EngineHook]) -> Callable[..., AsyncEngine]:
    def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
        """The engine; on SQLite, foreign keys are enforced like on PostgreSQL (they are off by default)."""
        engine = create_async_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _enable_sqlite_foreign_keys)
        for hook in hooks:
            hook(engine)
        return engine

    return create_engine


# Requests that only read: their session runs without BEGIN/ROLLBACK round trips.
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


@dataclass
class QuoinSQLAlchemyConfig(SQLAlchemyAsyncConfig):
    """advanced-alchemy's config, with autocommit sessions for requests that need no transaction.

    A ``GET`` or ``HEAD`` request reads, so its statements need no transaction
    around them: its session is bound to the same engine (same pool) in
    autocommit mode, which saves PostgreSQL two round trips per request
    (``BEGIN`` before the first statement, ``ROLLBACK`` at the end). Every
    other request gets a normal transactional session; a service whose write
    is one statement says so itself (``quoin.db.transactions``). A write
    reached from a ``GET`` (an API key's ``last_used_at``) is a single
    statement, atomic on its own.
    """

    _autocommit: tuple[AsyncEngine, AsyncEngine] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        """advanced-alchemy's set-up, with a session closing that cannot fail the answer."""
        super().__post_init__()
        self.before_send_handler = _closing_quietly(async_default_handler_maker(self.session_scope_key))

    def provide_session(self, state: State, scope: Scope) -> AsyncSession:
        """The request's session, created on first use."""
        make_session = cast("async_sessionmaker[AsyncSession]", state[self.session_maker_app_state_key])
        engine = make_session.kw.get("bind")
        # A maker bound elsewhere than an engine (tests bind one connection) is used as it is.
        if (
            scope.get("method") not in READ_ONLY_METHODS
            or not isinstance(engine, AsyncEngine)
            or get_aa_scope_state(scope, self.session_scope_key) is not None
        ):
            return super().provide_session(state, scope)
        session = make_session(bind=self._autocommit_engine(engine))
        set_aa_scope_state(scope, self.session_scope_key, session)
        return session

    @asynccontextmanager
    async def lookup_session(self, state: State) -> AsyncIterator[AsyncSession]:
        """A session of its own in autocommit mode, for a lookup made outside any handler (the caller).

        Its connection goes back to the pool as the block ends, so a request
        never holds a pooled connection while it waits for something else
        (its body, a Redis round trip) and never holds two at once.
        """
        make_session = cast("async_sessionmaker[AsyncSession]", state[self.session_maker_app_state_key])
        engine = make_session.kw.get("bind")
        bind = self._autocommit_engine(engine) if isinstance(engine, AsyncEngine) else engine
        async with make_session(bind=bind) as session:
            yield session

    def _autocommit_engine(self, engine: AsyncEngine) -> AsyncEngine:
        if self._autocommit is None or self._autocommit[0] is not engine:
            self._autocommit = (engine, engine.execution_options(isolation_level="AUTOCOMMIT"))
        return self._autocommit[1]


_CLOSE_FAILURES: tuple[type[Exception], ...] = (SQLAlchemyError, *DRIVER_ERRORS, OSError)


def _closing_quietly(close: Callable[[Message, Scope], Awaitable[None]]) -> BeforeMessageSendHookHandler:
    """advanced-alchemy's session closing, as the answer starts, without letting a dead connection cut the answer.

    Writes commit inside the request, so by the time the session closes its
    work is saved or abandoned; closing only rolls back what is left. If the
    connection died meanwhile (the server restarted, the backend was killed),
    that rollback fails, SQLAlchemy invalidates the connection, and the
    answer already decided still goes out: the failure is logged, not raised
    into a response that has started.
    """

    async def close_session(message: Message, scope: Scope) -> None:
        try:
            await close(message, scope)
        except _CLOSE_FAILURES as exc:
            structlog.get_logger("quoin.db").warning("session_close_failed", error=repr(exc))

    return close_session


def sqlalchemy_config(settings: DatabaseSettings, engine_hooks: Sequence[EngineHook] = ()) -> QuoinSQLAlchemyConfig:
    """The plugin config: it owns the engine's lifecycle and provides ``db_session`` per request.

    Writes commit inside the request through the service (``auto_commit=True``)
    so a failed commit is an error response, never a 2xx for data that was lost;
    the default ``before_send_handler`` then only closes the session.
    """
    return QuoinSQLAlchemyConfig(
        connection_string=settings.url.render_as_string(hide_password=False),
        engine_config=_engine_config(settings),
        create_engine_callable=_engine_factory(engine_hooks),
        session_config=AsyncSessionConfig(expire_on_commit=False),
        set_default_exception_handler=False,
        alembic_config=AlembicAsyncConfig(
            script_config=str(ALEMBIC_INI),
            script_location=str(MIGRATIONS_DIR),
            version_table_name=VERSION_TABLE,
        ),
    )
