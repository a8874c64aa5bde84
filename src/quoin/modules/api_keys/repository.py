"""Data access for API keys."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from advanced_alchemy.extensions.litestar import repository
from sqlalchemy import or_, select, update

from quoin.modules.api_keys.models import ApiKey

__all__ = ["ApiKeyRepository"]


class ApiKeyRepository(repository.SQLAlchemyAsyncRepository[ApiKey]):
    """advanced-alchemy's repository over ``api_keys``, plus the lookup authentication needs."""

    model_type = ApiKey

    async def get_by_prefix(self, prefix: str) -> ApiKey | None:
        """The key with this public prefix, if any."""
        return (await self.session.execute(select(ApiKey).where(ApiKey.prefix == prefix))).scalar_one_or_none()

    async def touch_last_used(self, key_id: UUID, now: datetime, stale_before: datetime) -> None:
        """Set ``last_used_at`` to ``now`` unless it is newer than ``stale_before`` (or the key is gone)."""
        table = ApiKey.__table__
        statement = (
            update(table)  # type: ignore[arg-type]  # a mapped class's __table__ is a Table
            .where(table.c.id == key_id, or_(table.c.last_used_at.is_(None), table.c.last_used_at < stale_before))
            .values(last_used_at=now)
        )
        await self.session.execute(statement)
