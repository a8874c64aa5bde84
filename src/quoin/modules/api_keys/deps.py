"""Dependency providers for the API keys controller."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from quoin.config import Settings
from quoin.db.changes import CHANGES_STATE_KEY
from quoin.modules.api_keys.keys import hasher_for
from quoin.modules.api_keys.service import ApiKeyService

__all__ = ["provide_api_keys_service"]


def provide_api_keys_service(
    db_session: NamedDependency[AsyncSession], settings: NamedDependency[Settings], state: State
) -> ApiKeyService:
    """An ``ApiKeyService`` bound to this request's session, announcing revocations to the app's caches."""
    return ApiKeyService(
        session=db_session, hasher=hasher_for(settings.security.secret_key), changes=state[CHANGES_STATE_KEY]
    )
