"""The users feature's side of authentication: every caller is an active user, read as ``UserRead``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from quoin.modules.users.repository import UserRepository
from quoin.modules.users.schemas import UserRead

__all__ = ["UserRequest", "load_caller"]

# What `request.user` holds on this app: the principal `load_caller` returned for the credential.
UserRequest = Request[UserRead, Any, Any]


async def load_caller(session: AsyncSession, user_id: UUID) -> UserRead | None:
    """The active user with this id, or None: a deactivated or deleted user's credentials stop working at once."""
    user = await UserRepository(session=session).get_public(user_id)
    return user if user is not None and user.is_active else None
