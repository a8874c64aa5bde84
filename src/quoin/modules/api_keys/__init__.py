"""API keys: long-lived credentials for machine clients, acting as their owner."""

from __future__ import annotations

from collections.abc import Sequence

from quoin.auth.credentials import CredentialResolver
from quoin.config import Settings
from quoin.db.changes import ChangeFeed
from quoin.feature import Feature
from quoin.modules.api_keys.controller import ApiKeyController
from quoin.modules.api_keys.keys import hasher_for
from quoin.modules.api_keys.resolver import ApiKeyResolver

__all__ = ["FEATURE"]


def _credentials(settings: Settings, changes: ChangeFeed) -> Sequence[CredentialResolver]:
    return [ApiKeyResolver(hasher_for(settings.security.secret_key), changes)]


FEATURE = Feature(name="api_keys", api_routes=[ApiKeyController], credentials=_credentials)
