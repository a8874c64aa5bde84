"""``./run migration``: a numbered, formatted revision from the models, on a copy of the project."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from quoin.db.config import ALEMBIC_INI
from tests.support.helpers import clean_environment
from tests.support.postgres_server import DatabaseFactory

# Starts PostgreSQL servers and the command as processes: left out of the fast tier.
pytestmark = pytest.mark.process

PROJECT_ROOT = ALEMBIC_INI.parent
PROBE_FEATURE = {
    "models.py": """
from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column


class MigrationProbe(UUIDv7AuditBase):
    __tablename__ = "migration_probes"

    owner_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
""",
    "__init__.py": """
from quoin.feature import Feature
from quoin.modules.migration_probe import models

FEATURE = Feature(name="migration_probe")
""",
}
REGISTRY = Path("src/quoin/modules/__init__.py")
LAST_LINE = '    "quoin.modules.system",\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The parts of the project the command reads and writes, copied; its ``quoin`` is the copy's."""
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("src", "migrations", "tools", "tests/support"):
        shutil.copytree(PROJECT_ROOT / folder, copy / folder, ignore=ignore)
    for file in ("alembic.ini", "pyproject.toml", "tests/__init__.py"):
        shutil.copy(PROJECT_ROOT / file, copy / file)
    return copy


def add_probe_feature(project: Path) -> None:
    feature = project / "src/quoin/modules/migration_probe"
    feature.mkdir()
    for name, source in PROBE_FEATURE.items():
        (feature / name).write_text(source.lstrip())
    registry = project / REGISTRY
    registry.write_text(registry.read_text().replace(LAST_LINE, f'{LAST_LINE}    "quoin.modules.migration_probe",\n'))


def remove_probe_line(project: Path) -> None:
    registry = project / REGISTRY
    registry.write_text(registry.read_text().replace('    "quoin.modules.migration_probe",\n', ""))


def revision_after_head(steps: int = 1) -> str:
    """The number the command gives the ``steps``-th new revision after the project's head."""
    numbers = [
        int(m[1]) for f in (PROJECT_ROOT / "migrations/versions").glob("*.py") if (m := re.search(r"_(\d{4})_", f.name))
    ]
    return f"{max(numbers) + steps:04d}"


def run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``args`` in the copy, importing the copy's code, without the caller's database settings."""
    environment = {k: v for k, v in clean_environment().items() if k != "TEST_DATABASE_URL"}
    environment.update(PYTHONPATH=f"{project / 'src'}:{project}", **env)
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=environment, capture_output=True, text=True, timeout=180, check=False
    )


def migrate(project: Path, database: str, *args: str) -> None:
    result = run(project, "-m", "alembic", *args, DATABASE_URL=database)
    assert result.returncode == 0, result.stderr


async def tables_in(database: str) -> set[str]:
    engine = create_async_engine(database, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


def written_revision(project: Path, result: subprocess.CompletedProcess[str], number: str, slug: str) -> Path:
    """The one file the command names, numbered and named like the revisions before it."""
    assert result.returncode == 0, result.stderr
    today = datetime.now(UTC).strftime("%Y%m%d")
    relative = f"migrations/versions/{today}_{number}_{slug}.py"
    assert result.stdout == f"wrote {relative}\n"
    return project / relative


async def backends(databases: DatabaseFactory, tmp_path: Path) -> list[str]:
    """A new empty PostgreSQL database and a new SQLite file: the migrations run on both."""
    postgres = await databases.create(migrated=False)
    return [postgres.render_as_string(hide_password=False), f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"]


async def test_a_new_model_becomes_the_next_revision_formatted_and_reversible(
    project: Path, databases: DatabaseFactory, tmp_path: Path
) -> None:
    add_probe_feature(project)

    result = run(project, "-m", "tools.migration", "add migration probes")  # on a private PostgreSQL of its own

    number = revision_after_head()
    revision = written_revision(project, result, number, "add_migration_probes")
    source = revision.read_text()
    assert source.startswith('"""Add migration probes.\n')
    assert f'revision: str = "{number}"' in source
    assert f'down_revision: str | None = "{revision_after_head(0)}"' in source  # after the project's head
    assert 'op.create_table(\n        "migration_probes",' in source
    for lint in (("format", "--check"), ("check",)):
        checked = run(project, "-m", "ruff", *lint, str(revision))
        assert checked.returncode == 0, checked.stdout + checked.stderr
    for database in await backends(databases, tmp_path):
        migrate(project, database, "upgrade", "head")
        assert "migration_probes" in await tables_in(database)
        migrate(project, database, "downgrade", "-1")
        assert "migration_probes" not in await tables_in(database)
        migrate(project, database, "upgrade", "head")


async def test_a_removed_model_becomes_a_revision_whose_downgrade_restores_the_table(
    project: Path, postgres_server: URL, databases: DatabaseFactory, tmp_path: Path
) -> None:
    server = {"TEST_DATABASE_URL": postgres_server.render_as_string(hide_password=False)}
    add_probe_feature(project)
    added = run(project, "-m", "tools.migration", "add migration probes", **server)
    written_revision(project, added, revision_after_head(), "add_migration_probes")
    remove_probe_line(project)

    result = run(project, "-m", "tools.migration", "drop migration probes", **server)

    dropped = written_revision(project, result, revision_after_head(2), "drop_migration_probes")
    assert 'op.drop_table("migration_probes")' in dropped.read_text()
    # The downgrade re-creates the table from types reflected on PostgreSQL: it must run on SQLite too.
    for database in await backends(databases, tmp_path):
        migrate(project, database, "upgrade", "head")
        assert "migration_probes" not in await tables_in(database)
        migrate(project, database, "downgrade", "-1")
        assert "migration_probes" in await tables_in(database)


def test_models_that_match_the_migrations_are_refused_in_one_line(project: Path, postgres_server: URL) -> None:
    before = sorted((project / "migrations/versions").glob("*.py"))

    result = run(
        project,
        "-m",
        "tools.migration",
        "nothing",
        TEST_DATABASE_URL=postgres_server.render_as_string(hide_password=False),
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "migration: no changes between the models and the migrations\n"
    assert sorted((project / "migrations/versions").glob("*.py")) == before
