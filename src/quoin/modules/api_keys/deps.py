"""Dependency providers for the API keys controller."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from quoin.modules.api_keys.keys import ApiKeyHasher
from quoin.modules.api_keys.service import ApiKeyService

__all__ = ["provide_api_keys_service"]


def provide_api_keys_service(
    db_session: NamedDependency[AsyncSession], api_key_hasher: NamedDependency[ApiKeyHasher]
) -> ApiKeyService:
    """An ``ApiKeyService`` bound to this request's session."""
    return ApiKeyService(session=db_session, hasher=api_key_hasher)
