"""Data access for API keys."""

from __future__ import annotations

from advanced_alchemy.extensions.litestar import repository
from sqlalchemy import select

from quoin.modules.api_keys.models import ApiKey
from quoin.modules.users.models import User

__all__ = ["ApiKeyRepository"]


class ApiKeyRepository(repository.SQLAlchemyAsyncRepository[ApiKey]):
    """advanced-alchemy's repository over ``api_keys``, plus the lookup authentication needs."""

    model_type = ApiKey

    async def get_with_owner(self, prefix: str) -> tuple[ApiKey, User] | None:
        """The key with this prefix and its owner, in one query."""
        statement = select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.prefix == prefix)
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else (row[0], row[1])
