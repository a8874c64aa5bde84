"""Apply and write Alembic migrations from Python (start-up in development, tests, ``./run migration``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from quoin.db.config import ALEMBIC_INI, MIGRATIONS_DIR

__all__ = ["NoChangesError", "alembic_config", "autogenerate_revision", "next_revision_id", "upgrade_to_head"]


class NoChangesError(Exception):
    """The models and the migrations already describe the same schema: there is nothing to write."""

    def __init__(self) -> None:
        super().__init__("no changes between the models and the migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config for this project; with ``connection``, migrations run on it."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Connection | None = None) -> None:
    """Migrate to the newest revision (the settings' database unless ``connection`` is given)."""
    command.upgrade(alembic_config(connection), "head")


def next_revision_id(config: Config) -> str:
    """The id after the head's: revisions are numbered 0001, 0002, … so their files sort in order."""
    head = ScriptDirectory.from_config(config).get_current_head()
    return f"{int(head or 0) + 1:04d}"


def _as_sentence(message: str) -> str:
    """``add notes`` → ``Add notes.``: the revision's docstring reads like the others'."""
    text = message.strip()
    if not text:
        raise ValueError("the revision needs a message, e.g. 'add notes'")
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _refuse_empty(_context: MigrationContext, _revision: object, directives: list[MigrationScript]) -> None:
    if all(script.upgrade_ops is None or script.upgrade_ops.is_empty() for script in directives):
        directives.clear()


def autogenerate_revision(connection: Connection, message: str) -> Path:
    """Write the next revision: what the models add to the schema ``connection`` holds (migrated to head).

    Alembic's autogenerate writes it; ``migrations/env.py`` numbers it and
    alembic.ini's post-write hooks format it. Raises ``NoChangesError`` rather
    than writing an empty revision.
    """
    written = command.revision(
        alembic_config(connection), _as_sentence(message), autogenerate=True, process_revision_directives=_refuse_empty
    )
    scripts = [script for script in (written if isinstance(written, list) else [written]) if script is not None]
    if not scripts:
        raise NoChangesError
    return Path(scripts[0].path)
