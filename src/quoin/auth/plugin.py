"""The authentication concern: who is calling, on every route that is not marked public."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from quoin.auth.authentication import QuoinAuth, TokenIssuer, build_auth
from quoin.auth.credentials import CredentialResolver
from quoin.auth.openapi import document_operation_security, point_password_flow_at_token_route
from quoin.auth.principal import PrincipalSource
from quoin.config import SecuritySettings
from quoin.core.http.openapi import add_openapi_correction
from quoin.db.changes import ChangeFeed
from quoin.db.config import QuoinSQLAlchemyConfig

__all__ = ["AuthPlugin"]


class AuthPlugin(InitPluginProtocol):
    """Bearer tokens and the features' credentials, resolved to the caller from ``callers``.

    Its middleware puts itself first: plugins listed after this one that also
    insert middleware at the front wrap it. The token issuer is the
    ``token_issuer`` dependency.
    """

    def __init__(
        self,
        settings: SecuritySettings,
        db_config: QuoinSQLAlchemyConfig,
        callers: PrincipalSource,
        changes: ChangeFeed,
        resolvers: Sequence[CredentialResolver] = (),
    ) -> None:
        self.auth: QuoinAuth = build_auth(settings.secret_key, db_config, callers, changes, resolvers)
        self._issuer = TokenIssuer(self.auth, settings.access_token_ttl)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Install the credential middleware, document each operation's credentials, provide the issuer."""
        app_config = self.auth.on_app_init(app_config)
        app_config.dependencies["token_issuer"] = Provide(lambda: self._issuer, use_cache=True, sync_to_thread=False)
        add_openapi_correction(app_config, document_operation_security)
        add_openapi_correction(app_config, point_password_flow_at_token_route)
        return app_config
