"""Bearer JWTs and the registered credentials, resolved to the caller on every request.

Litestar's ``JWTAuth`` issues and verifies the tokens (PyJWT underneath, HS256,
``exp``/``iat``/``sub``/``jti`` required); its middleware is extended to accept
a registered credential (``CredentialResolver``) instead. The caller is
remembered per process and forgotten as soon as its row changes on any
instance (``quoin.db.changes``); while that is not known to work, every
request reads the caller's row. Either way, deleting or deactivating a user,
or revoking a key, takes effect at once on every instance.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult, DefineMiddleware
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, Reference, SecurityRequirement, SecurityScheme
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from quoin.auth.credentials import CredentialResolver, header_value
from quoin.auth.principal import Principal, PrincipalSource
from quoin.auth.tokens import TokenVerifier
from quoin.core.errors import UnauthorizedError
from quoin.core.http.routes import PUBLIC_OPT_KEY
from quoin.core.observability.access_log import note_user_id
from quoin.db.changes import ChangeFeed, RowCache
from quoin.db.config import QuoinSQLAlchemyConfig

__all__ = ["BEARER_SCHEME", "PresentedCredential", "QuoinAuth", "TokenIssuer", "build_auth", "presented"]

BEARER_SCHEME = "OAuth2PasswordBearer"


@dataclass(frozen=True, slots=True)
class PresentedCredential:
    """A registered credential as sent, handed to the same owner lookup as a decoded token."""

    resolver: CredentialResolver
    value: str


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip(" \t")
    return token if scheme.lower() == "bearer" and token else None


def presented(headers: Headers, resolvers: Sequence[CredentialResolver]) -> PresentedCredential | str | None:
    """What a request authenticates with: a registered credential's header, which wins, else its bearer token.

    The one rule, for authentication and for the rate limit's naming of the caller alike.
    """
    for resolver in resolvers:
        if (value := header_value(headers, resolver.header)) is not None:
            return PresentedCredential(resolver, value)
    return bearer_token(header_value(headers, "Authorization"))


class CredentialsMiddleware(JWTAuthenticationMiddleware):
    """Authenticates with a registered credential's header when present, else with ``Authorization: Bearer``."""

    def __init__(
        self, *args: Any, tokens: TokenVerifier, resolvers: Sequence[CredentialResolver], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._tokens = tokens  # QuoinAuth's: the rate limiter verifies with the same one
        self._resolvers = resolvers

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        """The caller's active user, or ``UnauthorizedError`` (401 with ``WWW-Authenticate: Bearer``)."""
        result = await self._authenticate(connection)
        note_user_id(connection.scope, result.user.id)
        return result

    async def _authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        credential = presented(connection.headers, self._resolvers)
        if isinstance(credential, PresentedCredential):
            # build_auth's handler takes either credential; Litestar types it for tokens only.
            owner = await self.retrieve_user_handler(credential, connection)  # type: ignore[arg-type]
            if owner is None:
                raise UnauthorizedError(credential.resolver.refusal)
            return AuthenticationResult(user=owner, auth=credential.resolver.auth_name)
        if credential is None:
            raise UnauthorizedError("Not authenticated")
        try:
            return await self.authenticate_token(encoded_token=credential, connection=connection)
        except NotAuthorizedException:
            raise UnauthorizedError("Invalid or expired token") from None

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """The token's active user; ``NotAuthorizedException`` for a bad or expired token or no such user."""
        token = self._tokens.verify(encoded_token)
        user = await self.retrieve_user_handler(token, connection)
        if user is None:
            raise NotAuthorizedException
        return AuthenticationResult(user=user, auth=token)


@dataclass
class QuoinAuth(JWTAuth[Principal, Token]):
    """``JWTAuth`` that also takes the registered credentials, and documents every way in."""

    credential_resolvers: Sequence[CredentialResolver] = field(default=())

    @cached_property
    def tokens(self) -> TokenVerifier:
        """The one verifier of this app's bearer tokens: Litestar's checks, with this config's settings."""
        return TokenVerifier(
            functools.partial(
                self.token_cls.decode,
                secret=self.token_secret,
                algorithm=self.algorithm,
                audience=self.accepted_audiences,
                issuer=self.accepted_issuers,
                require_claims=self.require_claims,
                verify_exp=self.verify_expiry,
                verify_nbf=self.verify_not_before,
                strict_audience=self.strict_audience,
            )
        )

    @property
    def middleware(self) -> DefineMiddleware:
        """Litestar's authentication middleware definition, handed the token verifier and the resolvers."""
        definition = super().middleware
        definition.kwargs["tokens"] = self.tokens
        definition.kwargs["resolvers"] = tuple(self.credential_resolvers)
        return definition

    @property
    def openapi_components(self) -> Components:
        """Every security scheme, so the docs page can authorize each way."""
        bearer = SecurityScheme(
            type="oauth2",
            # The route that issues tokens fills in its URL (quoin.auth.openapi.point_password_flow_at_token_route).
            flows=OAuthFlows(password=OAuthFlow(token_url="", scopes={})),
            description="Log in with email and password; send `Authorization: Bearer <access_token>`.",
        )
        schemes: dict[str, SecurityScheme | Reference] = {BEARER_SCHEME: bearer}
        schemes |= {r.scheme_name: r.scheme for r in self.credential_resolvers}
        return Components(security_schemes=schemes)

    @property
    def security_requirement(self) -> SecurityRequirement:
        """The bearer token requirement (the other credentials are added as alternatives in ``on_app_init``)."""
        return {BEARER_SCHEME: []}

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the middleware and document each credential as sufficient on its own."""
        app_config = super().on_app_init(app_config)
        if app_config.openapi_config and isinstance(app_config.openapi_config.security, list):
            app_config.openapi_config.security.extend({r.scheme_name: []} for r in self.credential_resolvers)
        return app_config


class TokenIssuer:
    """Issues access tokens for authenticated users."""

    def __init__(self, auth: QuoinAuth, lifetime_seconds: int) -> None:
        self._auth = auth
        self.lifetime_seconds = lifetime_seconds

    def issue(self, user_id: UUID) -> str:
        """A signed JWT for the user with ``sub``, ``exp``, ``iat`` and a unique ``jti``."""
        return self._auth.create_token(
            identifier=str(user_id),
            token_expiration=timedelta(seconds=self.lifetime_seconds),
            token_unique_jwt_id=uuid.uuid4().hex,
        )


def build_auth(
    secret_key: str,
    db_config: QuoinSQLAlchemyConfig,
    callers: PrincipalSource,
    changes: ChangeFeed,
    resolvers: Sequence[CredentialResolver] = (),
) -> QuoinAuth:
    """The app's authentication config.

    A caller not remembered is looked up in a short session of its own, and
    remembered until its row changes.
    """
    remembered: RowCache[Principal] = changes.cache(callers.table)

    async def credential_owner(
        credential: Token | PresentedCredential, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> Principal | None:
        presented: PresentedCredential | None = None
        if isinstance(credential, PresentedCredential):
            presented = credential
            user_id = credential.resolver.known_owner(credential.value)
        else:
            try:
                user_id = UUID(credential.sub)
            except ValueError:
                return None
        if user_id is not None and (caller := remembered.get(str(user_id))) is not None:
            return caller
        version = remembered.version()  # before reading: a change announced meanwhile wins
        async with db_config.lookup_session(connection.app.state) as session:
            if user_id is None and presented is not None:
                user_id = await presented.resolver.owner(presented.value, session)
            if user_id is None:
                return None
            caller = await callers.load(session, user_id)
            if caller is not None:
                remembered.put(str(user_id), caller, version, session)
        return caller

    return QuoinAuth(
        token_secret=secret_key,
        retrieve_user_handler=credential_owner,
        authentication_middleware_class=CredentialsMiddleware,
        exclude=["^/schema"],
        exclude_opt_key=PUBLIC_OPT_KEY,
        require_claims=["exp", "iat", "sub", "jti"],
        credential_resolvers=tuple(resolvers),
    )
