"""The ``users`` table."""

from __future__ import annotations

from advanced_alchemy.base import UUIDv7AuditBase
from sqlalchemy import CheckConstraint, Index, String, false, true
from sqlalchemy.orm import Mapped, mapped_column

from quoin.core.security.encryption import EncryptedText

__all__ = ["User"]


class User(UUIDv7AuditBase):
    """An account: identified by a lower-cased, unique email; the password only as an Argon2 hash."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        # The default list order (newest first, id as tie-breaker) reads a page off this index.
        Index("ix_users_created_at_id", "created_at", "id"),
    )

    email: Mapped[str] = mapped_column(String(254), unique=True)
    # Personal data: encrypted at rest (ENCRYPTION_KEYS); cannot be searched or unique.
    full_name: Mapped[str | None] = mapped_column(EncryptedText(), default=None)
    hashed_password: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    is_superuser: Mapped[bool] = mapped_column(default=False, server_default=false())
