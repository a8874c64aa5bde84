"""Data access for users."""

from __future__ import annotations

from advanced_alchemy.extensions.litestar import repository

from quoin.modules.users.models import User

__all__ = ["UserRepository"]


class UserRepository(repository.SQLAlchemyAsyncRepository[User]):
    """advanced-alchemy's repository over ``users``."""

    model_type = User
