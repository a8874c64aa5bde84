"""Migrations: they build the schema the models describe, both ways, on PostgreSQL and SQLite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from advanced_alchemy.base import orm_registry
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import quoin.modules  # noqa: F401  # registers the models
from quoin.db.config import ALEMBIC_INI
from quoin.db.migrations import alembic_config
from tests.support.helpers import clean_environment
from tests.support.postgres_server import DatabaseFactory

PROJECT_ROOT = ALEMBIC_INI.parent
# The tables the models declare (every registered feature's), and alembic's own.
MIGRATED_TABLES = {*orm_registry.metadata.tables, "alembic_versions"}


def differences(connection: Connection) -> list[object]:
    # SQLite reflects column types by affinity (a UUID reads back as NUMERIC), so
    # types are compared on PostgreSQL only; tables, columns and constraints on both.
    exact_types = connection.dialect.name != "sqlite"
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": exact_types, "compare_server_default": exact_types, "version_table": "alembic_versions"},
    )
    return list(compare_metadata(context, orm_registry.metadata))


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def up_down_up(connection: Connection) -> tuple[set[str], set[str], set[str], list[object]]:
    config = alembic_config(connection)
    command.upgrade(config, "head")
    after_up = tables(connection)
    command.downgrade(config, "base")
    after_down = tables(connection)
    command.upgrade(config, "head")
    return after_up, after_down, tables(connection), differences(connection)


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_upgrade_downgrade_upgrade_leaves_no_drift(
    databases: DatabaseFactory, tmp_path: Path, backend: str
) -> None:
    if backend == "postgresql":
        url: URL | str = await databases.create(migrated=False)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            after_up, after_down, after_again, drift = await connection.run_sync(up_down_up)
    finally:
        await engine.dispose()

    assert "users" in MIGRATED_TABLES  # the models are registered: the set is not just alembic's
    assert after_up == after_again == MIGRATED_TABLES
    assert after_down == {"alembic_versions"}
    assert drift == []


def run_cli(*args: str, database_url: URL) -> subprocess.CompletedProcess[str]:
    env = clean_environment()
    env["DATABASE_URL"] = database_url.render_as_string(hide_password=False)
    return subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.process
@pytest.mark.parametrize(
    "cli",
    [
        pytest.param((sys.executable, "-m", "alembic", "upgrade", "head"), id="alembic"),
        pytest.param((sys.executable, "-m", "quoin", "database", "upgrade", "--no-prompt"), id="quoin-database"),
    ],
)
async def test_command_line_upgrade_creates_the_schema(databases: DatabaseFactory, cli: tuple[str, ...]) -> None:
    url = await databases.create(migrated=False)

    result = run_cli(*cli, database_url=url)

    assert result.returncode == 0, result.stdout + result.stderr
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(tables) == MIGRATED_TABLES
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
