"""Apply Alembic migrations from Python (start-up in development, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from quoin.db.config import ALEMBIC_INI, MIGRATIONS_DIR

__all__ = ["alembic_config", "upgrade_to_head"]


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
