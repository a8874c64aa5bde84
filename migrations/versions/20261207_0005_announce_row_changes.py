"""Announce updated and deleted users and API keys, so every instance's caches forget them.

A trigger sends ``<table>:<key>`` on the ``quoin_row_changes`` channel
(``quoin.db.changes``); PostgreSQL delivers it to every listener when the
transaction commits. ``users`` are announced by id, ``api_keys`` by prefix
(what a presented key is looked up by); only the columns a cached key depends
on count, so recording a key's last use announces nothing. ``TRUNCATE``
announces the whole table (an empty key). PostgreSQL only:
SQLite has no notifications, and the caches never serve there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 05:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = """
CREATE FUNCTION quoin_announce_row_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN  -- every row: an empty key
        PERFORM pg_notify('quoin_row_changes', TG_TABLE_NAME || ':');
    ELSE
        PERFORM pg_notify('quoin_row_changes', TG_TABLE_NAME || ':' || (to_jsonb(OLD) ->> TG_ARGV[0]));
    END IF;
    RETURN NULL;
END
$$
"""
_TRIGGERS = {
    "users": ("id", "UPDATE OR DELETE"),
    "api_keys": ("prefix", "UPDATE OF user_id, prefix, key_hash, expires_at OR DELETE"),
}


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    for table, (key, events) in _TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {table}_announce_change AFTER {events} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION quoin_announce_row_change('{key}')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_announce_truncate AFTER TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION quoin_announce_row_change('{key}')"
        )


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TRIGGERS:  # a table a later revision dropped and re-created has none
        op.execute(f"DROP TRIGGER IF EXISTS {table}_announce_change ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_announce_truncate ON {table}")
    op.execute("DROP FUNCTION quoin_announce_row_change()")
