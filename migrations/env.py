"""Alembic environment shared by ``alembic …``, ``quoin database …`` and the app's start-up.

Where the database is comes, in order, from: a connection handed over in
``config.attributes["connection"]`` (tests, start-up), the engine advanced-alchemy's
CLI puts on its config, or QuoinAPI's settings.
"""

from __future__ import annotations

import asyncio
import logging
from logging.config import fileConfig

from advanced_alchemy.base import orm_registry
from alembic import context
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

import quoin.modules  # noqa: F401  # registers every feature's models on the metadata
from quoin.config import Settings
from quoin.db.config import VERSION_TABLE
from quoin.db.migrations import next_revision_id

config = context.config
target_metadata = orm_registry.metadata

# Run as plain `alembic …`, nothing has configured logging yet: use alembic.ini's.
# Under the app (or `quoin database …`) the app's logging pipeline is already in place.
if config.config_file_name is not None and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _number_new_revisions(_context: MigrationContext, _revision: object, directives: list[MigrationScript]) -> None:
    # Whichever tool writes a revision (./run migration, alembic, quoin database), it gets
    # the next number (0005 after 0004), never a random id.
    for script in directives:
        script.rev_id = next_revision_id(config)


def _configure(sqlite: bool, **kwargs: object) -> None:
    # SQLite reflects types by affinity (a UUID reads back as NUMERIC) and needs
    # batch mode for ALTERs; compare types and defaults on PostgreSQL only, so
    # autogenerate there is exact and here free of false changes.
    context.configure(
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        compare_type=not sqlite,
        compare_server_default=not sqlite,
        render_as_batch=sqlite,
        process_revision_directives=_number_new_revisions,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Emit SQL for the configured database without connecting."""
    url = Settings.from_env().db.url
    _configure(url.get_backend_name() == "sqlite", url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """Run the migrations on an open connection."""
    _configure(connection.dialect.name == "sqlite", connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    """Connect (with the CLI's engine, or one built from settings) and run the migrations."""
    engine: AsyncEngine | None = getattr(config, "engine", None)
    owned = engine is None
    if engine is None:
        engine = create_async_engine(Settings.from_env().db.url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        if owned:
            await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif (connection := config.attributes.get("connection")) is not None:
    do_run_migrations(connection)
else:
    asyncio.run(run_migrations_online())
