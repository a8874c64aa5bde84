"""Widen users.full_name to hold encrypted values.

Existing names stay readable as plaintext until `quoin users reencrypt` encrypts them.
Downgrading fails (rather than truncating) while any stored value is longer than 255 characters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 02:16:26.982883+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Batch mode: SQLite rebuilds the table, PostgreSQL runs a plain ALTER.
    with op.batch_alter_table("users") as batch:
        batch.alter_column("full_name", existing_type=sa.VARCHAR(length=255), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("users") as batch:
        batch.alter_column("full_name", existing_type=sa.Text(), type_=sa.VARCHAR(length=255), existing_nullable=True)
