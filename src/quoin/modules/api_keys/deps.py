"""Dependency providers for the API keys controller."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from quoin.config import Settings
from quoin.modules.api_keys.keys import hasher_for
from quoin.modules.api_keys.service import ApiKeyService

__all__ = ["provide_api_keys_service"]


def provide_api_keys_service(
    db_session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
) -> ApiKeyService:
    """An ``ApiKeyService`` bound to this request's session."""
    return ApiKeyService(session=db_session, hasher=hasher_for(settings.security.secret_key))
