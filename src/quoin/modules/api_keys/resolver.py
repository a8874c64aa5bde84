"""``X-API-Key``: the credential this feature issues, registered with the shared authentication."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from litestar.openapi.spec import SecurityScheme
from sqlalchemy.ext.asyncio import AsyncSession

from quoin.db.changes import ChangeFeed, RowCache
from quoin.modules.api_keys.keys import ApiKeyHasher
from quoin.modules.api_keys.models import ApiKey
from quoin.modules.api_keys.service import ApiKeyService, CheckedKey

__all__ = ["API_KEY_HEADER", "ApiKeyResolver"]

API_KEY_HEADER = "X-API-Key"


class ApiKeyResolver:
    """Finds the owner of an ``X-API-Key`` value (``quoin.auth.credentials.CredentialResolver``).

    Checked keys are remembered by prefix until their row changes (revoked,
    re-dated) on any instance, and for no longer than their use may go
    unrecorded: then the database is read again and ``last_used_at`` refreshed.
    """

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

    def __init__(self, hasher: ApiKeyHasher, changes: ChangeFeed) -> None:
        self._hasher = hasher
        self._checked: RowCache[CheckedKey] = changes.cache(ApiKey.__tablename__)

    def known_owner(self, value: str) -> UUID | None:
        """The owner of a remembered key that is still valid and whose use is recorded; else None."""
        prefix = self._hasher.prefix_of(value)
        checked = self._checked.get(prefix) if prefix else None
        if checked is None:
            return None
        now = datetime.now(UTC)
        return checked.owner if checked.accepts(value, self._hasher, now) and checked.use_recorded(now) else None

    async def owner(self, value: str, session: AsyncSession) -> UUID | None:
        """The key's owner, if the key is valid and unexpired; its ``last_used_at`` is refreshed."""
        version = self._checked.version()
        checked = await ApiKeyService(session=session, hasher=self._hasher).check(value)
        if checked is None:
            return None
        self._checked.put(checked.prefix, checked, version, session)
        return checked.owner
