"""Issuing, listing, revoking and checking API keys."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from advanced_alchemy.extensions.litestar import service
from advanced_alchemy.filters import LimitOffset, OrderBy
from sqlalchemy.exc import SQLAlchemyError

from quoin.core.errors import FieldError, NotFoundError, ValidationError
from quoin.db.changes import ChangeFeed
from quoin.db.errors import DRIVER_ERRORS
from quoin.modules.api_keys.keys import ApiKeyHasher
from quoin.modules.api_keys.models import ApiKey
from quoin.modules.api_keys.repository import ApiKeyRepository
from quoin.modules.api_keys.schemas import ApiKeyCreate

__all__ = ["LAST_USED_PRECISION", "ApiKeyService", "CheckedKey"]

# last_used_at is refreshed at most this often per key, so that a busy
# machine client does not turn every request into a row update.
LAST_USED_PRECISION = timedelta(minutes=1)
_WRITE_FAILURES: tuple[type[Exception], ...] = (SQLAlchemyError, *DRIVER_ERRORS, OSError)


def _checked_expiry(expires_at: datetime | None) -> datetime | None:
    """The expiry in UTC if it lies in the future, else a 422.

    An offset can push a date at the edge of the calendar out of range
    (9999-12-31T23:59:59-05:00); later than representable is stored as the latest instant.
    """
    if expires_at is None:
        return None
    try:
        in_utc = expires_at.astimezone(UTC)
    except OverflowError:
        in_utc = datetime.max.replace(tzinfo=UTC) if expires_at.year > 1 else datetime.min.replace(tzinfo=UTC)
    if in_utc <= datetime.now(UTC):
        raise ValidationError(
            "The key would already be expired",
            errors=[FieldError(field="expires_at", message="must be in the future")],
        )
    return in_utc


@dataclass(frozen=True, slots=True)
class CheckedKey:
    """What deciding on a presented key needs from its row; kept by the resolver between requests."""

    prefix: str
    owner: UUID
    key_hash: str
    expires_at: datetime | None
    last_used_at: datetime | None

    def accepts(self, key: str, hasher: ApiKeyHasher, now: datetime) -> bool:
        """Whether ``key`` is this key, unexpired at ``now``."""
        return hasher.matches(key, self.key_hash) and (self.expires_at is None or now < self.expires_at)

    def use_recorded(self, now: datetime) -> bool:
        """Whether ``last_used_at`` is recent enough that a use at ``now`` need not be written."""
        return self.last_used_at is not None and now - self.last_used_at < LAST_USED_PRECISION


class ApiKeyService(service.SQLAlchemyAsyncRepositoryService[ApiKey, ApiKeyRepository]):
    """API keys of one owner; every write commits before the caller answers.

    A revocation is announced to this process's caches at once through ``changes`` (the
    table's trigger tells every instance, this one included, a moment later).
    """

    repository_type = ApiKeyRepository

    def __init__(self, *, hasher: ApiKeyHasher, changes: ChangeFeed | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hasher = hasher
        self._changes = changes

    async def issue(self, owner_id: UUID, data: ApiKeyCreate) -> tuple[ApiKey, str]:
        """Create a key for ``owner_id``; returns the row and the key, which is never available again."""
        expires_at = _checked_expiry(data.expires_at)
        new_key = self.hasher.generate()
        api_key = await self.create(
            ApiKey(
                user_id=owner_id,
                name=data.name,
                prefix=new_key.prefix,
                key_hash=new_key.key_hash,
                expires_at=expires_at,
            ),
            auto_commit=True,
        )
        return api_key, new_key.key

    async def list_for(self, owner_id: UUID, *, limit: int, offset: int) -> tuple[Sequence[ApiKey], int]:
        """A page of the owner's keys, newest first, and their total."""
        return await self.get_many_and_count(
            OrderBy(field_name="created_at", sort_order="desc"),
            OrderBy(field_name="id", sort_order="desc"),
            LimitOffset(limit=limit, offset=offset),
            user_id=owner_id,
        )

    async def revoke(self, owner_id: UUID, key_id: UUID) -> None:
        """Delete one of the owner's keys; it stops working at once. Another user's key is "not found"."""
        api_key = await self.get_one_or_none(id=key_id, user_id=owner_id)
        if api_key is None:
            raise NotFoundError("API key not found")
        await self.delete(api_key.id, auto_commit=True)
        if self._changes is not None:
            self._changes.forget(ApiKey.__tablename__, api_key.prefix)

    async def check(self, key: str) -> CheckedKey | None:
        """The row of a valid, unexpired key, its use recorded; None for any other value.

        Whether the owner is active is the caller's check.
        """
        prefix = self.hasher.prefix_of(key)
        api_key = await self.repository.get_by_prefix(prefix) if prefix else None
        if api_key is None:
            return None
        checked = CheckedKey(
            prefix=api_key.prefix,
            owner=api_key.user_id,
            key_hash=api_key.key_hash,
            expires_at=api_key.expires_at,
            last_used_at=api_key.last_used_at,
        )
        now = datetime.now(UTC)
        if not checked.accepts(key, self.hasher, now):
            return None
        if not checked.use_recorded(now) and await self._record_use(api_key.id, now):
            checked = dataclasses.replace(checked, last_used_at=now)
        return checked

    async def _record_use(self, key_id: UUID, now: datetime) -> bool:
        """Whether the use was written; bookkeeping only, so a revoked key or a failed write never fails the request."""
        try:
            await self.repository.touch_last_used(key_id, now, stale_before=now - LAST_USED_PRECISION)
            await self.repository.session.commit()
        except _WRITE_FAILURES as exc:
            with contextlib.suppress(*_WRITE_FAILURES):  # the connection may be gone too
                await self.repository.session.rollback()
            structlog.get_logger("quoin.api_keys").warning("api_key_last_used_not_recorded", error=repr(exc))
            return False
        return True
