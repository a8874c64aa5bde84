"""Index users by (created_at, id): the default list order reads a page instead of sorting the table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 04:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_users_created_at_id", "users", ["created_at", "id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_users_created_at_id", table_name="users")
