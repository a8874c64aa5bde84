"""``X-API-Key``: the credential this feature issues, registered with the shared authentication."""

from __future__ import annotations

from uuid import UUID

from litestar.openapi.spec import SecurityScheme
from sqlalchemy.ext.asyncio import AsyncSession

from quoin.modules.api_keys.keys import ApiKeyHasher
from quoin.modules.api_keys.service import ApiKeyService

__all__ = ["API_KEY_HEADER", "ApiKeyResolver"]

API_KEY_HEADER = "X-API-Key"


class ApiKeyResolver:
    """Finds the owner of an ``X-API-Key`` value (``quoin.auth.credentials.CredentialResolver``)."""

    header = API_KEY_HEADER
    auth_name = "api_key"  # request.auth of a request it authenticated
    scheme_name = "APIKeyHeader"
    scheme = SecurityScheme(
        type="apiKey",
        name=API_KEY_HEADER,
        security_scheme_in="header",
        description="A key from `POST /api/v1/api-keys/`, sent as `X-API-Key: <key>`.",
    )
    refusal = "Invalid, expired or revoked API key"

    def __init__(self, hasher: ApiKeyHasher) -> None:
        self._hasher = hasher

    async def owner(self, value: str, session: AsyncSession) -> UUID | None:
        """The key's owner, if the key is valid and unexpired; its ``last_used_at`` is refreshed."""
        return await ApiKeyService(session=session, hasher=self._hasher).owner_of(value)
