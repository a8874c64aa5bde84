"""Who is calling: bearer JWTs and ``X-API-Key``, checked against the database on every request.

Litestar's ``JWTAuth`` issues and verifies the tokens (PyJWT underneath, HS256,
``exp``/``iat``/``sub``/``jti`` required); its middleware is extended to accept
an API key instead. Every request loads the caller's row, so deleting or
deactivating a user, or revoking a key, takes effect at once on every instance.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

import msgspec
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AuthenticationResult, DefineMiddleware
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, Operation, SecurityRequirement, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token
from litestar.types import Scope

from quoin.core.access import PUBLIC_OPT_KEY
from quoin.core.errors import UnauthorizedError
from quoin.core.observability import note_user_id, user_id_of
from quoin.db.config import QuoinSQLAlchemyConfig
from quoin.modules.api_keys.keys import ApiKeyHasher
from quoin.modules.api_keys.service import ApiKeyService
from quoin.modules.auth.tokens import TokenVerifier
from quoin.modules.users.models import User
from quoin.modules.users.repository import UserRepository
from quoin.modules.users.schemas import UserRead

__all__ = [
    "API_KEY_HEADER",
    "TOKEN_URL",
    "QuoinAuth",
    "TokenIssuer",
    "api_key_owner_identity",
    "build_auth",
    "document_operation_security",
    "token_user_identity",
]

API_KEY_HEADER = "X-API-Key"
TOKEN_URL = "/api/v1/auth/token"  # noqa: S105  # a path, not a secret
BEARER_SCHEME = "OAuth2PasswordBearer"
# ``request.auth`` of a request authenticated by an API key (bearer requests carry their Token).
API_KEY_AUTH = "api_key"
API_KEY_SCHEME = "APIKeyHeader"


# Optional whitespace around a header value is not part of it (RFC 9110 §5.5); servers differ in trimming it.
_OWS = " \t"


def _header(headers: Headers, name: str) -> str | None:
    """A header's value without surrounding optional whitespace; None when absent."""
    value = headers.get(name)
    return None if value is None else value.strip(_OWS)


@dataclass(frozen=True, slots=True)
class ApiKeyCredential:
    """An ``X-API-Key`` value, handed to the same user lookup as a decoded token."""

    key: str


class CredentialsMiddleware(JWTAuthenticationMiddleware):
    """Authenticates with ``X-API-Key`` when present, else with ``Authorization: Bearer <jwt>``."""

    def __init__(self, *args: Any, tokens: TokenVerifier, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tokens = tokens  # QuoinAuth's: the rate limiter verifies with the same one

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        """The caller's active user, or ``UnauthorizedError`` (401 with ``WWW-Authenticate: Bearer``)."""
        result = await self._authenticate(connection)
        note_user_id(connection.scope, result.user.id)
        return result

    async def _authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        if (api_key := _header(connection.headers, API_KEY_HEADER)) is not None:
            # build_auth's handler takes either credential; Litestar types it for tokens only.
            owner = await self.retrieve_user_handler(ApiKeyCredential(api_key), connection)  # type: ignore[arg-type]
            if owner is None:
                raise UnauthorizedError("Invalid, expired or revoked API key")
            return AuthenticationResult(user=owner, auth=API_KEY_AUTH)
        scheme, _, token = (_header(connection.headers, "Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip(_OWS):
            raise UnauthorizedError("Not authenticated")
        try:
            return await self.authenticate_token(encoded_token=token.strip(_OWS), connection=connection)
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


class QuoinAuth(JWTAuth[UserRead, Token]):
    """``JWTAuth`` documenting both ways in: the OAuth2 password flow and the API key header."""

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
        """Litestar's authentication middleware definition, handed the shared token verifier."""
        definition = super().middleware
        definition.kwargs["tokens"] = self.tokens
        return definition

    @property
    def openapi_components(self) -> Components:
        """Both security schemes, so the docs page can authorize either way."""
        return Components(
            security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="oauth2",
                    flows=OAuthFlows(password=OAuthFlow(token_url=TOKEN_URL, scopes={})),
                    description="Log in with email and password; send `Authorization: Bearer <access_token>`.",
                ),
                API_KEY_SCHEME: SecurityScheme(
                    type="apiKey",
                    name=API_KEY_HEADER,
                    security_scheme_in="header",
                    description="A key from `POST /api/v1/api-keys/`, sent as `X-API-Key: <key>`.",
                ),
            }
        )

    @property
    def security_requirement(self) -> SecurityRequirement:
        """The bearer token requirement (the API key is added as an alternative in ``on_app_init``)."""
        return {BEARER_SCHEME: []}

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register the middleware and document either credential as sufficient."""
        app_config = super().on_app_init(app_config)
        if app_config.openapi_config and isinstance(app_config.openapi_config.security, list):
            app_config.openapi_config.security.append({API_KEY_SCHEME: []})
        return app_config


class TokenIssuer:
    """Issues access tokens for authenticated users."""

    def __init__(self, auth: QuoinAuth, lifetime_seconds: int) -> None:
        self._auth = auth
        self.lifetime_seconds = lifetime_seconds

    def issue(self, user: User) -> str:
        """A signed JWT for ``user`` with ``sub``, ``exp``, ``iat`` and a unique ``jti``."""
        return self._auth.create_token(
            identifier=str(user.id),
            token_expiration=timedelta(seconds=self.lifetime_seconds),
            token_unique_jwt_id=uuid.uuid4().hex,
        )


def token_user_identity(auth: QuoinAuth) -> Callable[[Scope], str | None]:
    """The user of a valid bearer token, checked without the database: for rate limits before authentication.

    A token counts as its user only when its signature and expiry hold, so
    nobody can spend another user's budget. API keys cannot be checked without
    the database; before authentication they count as their address, and after
    it as their owner (``api_key_owner_identity``). It verifies with the
    authentication's own verifier, so a token is checked once per process.
    """

    def identify(scope: Scope) -> str | None:
        headers = Headers.from_scope(scope)
        if headers.get(API_KEY_HEADER) is not None:
            return None
        scheme, _, token = (_header(headers, "Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip(_OWS):
            return None
        try:
            return f"user:{auth.tokens.verify(token.strip(_OWS)).sub}"
        except NotAuthorizedException:
            return None

    return identify


def api_key_owner_identity(scope: Scope) -> str | None:
    """After authentication: the owner of the API key the request used, so all of a user's keys share its budget."""
    if scope.get("auth") != API_KEY_AUTH:
        return None
    user_id = user_id_of(scope)
    return None if user_id is None else f"user:{user_id}"


def document_operation_security(app: Litestar) -> None:
    """State on every operation which credentials it takes: none for public routes, either scheme otherwise.

    Litestar drops an empty ``security`` list, so public operations would
    inherit the document-wide requirement; this sets each one explicitly.
    """
    paths = app.openapi_schema.paths or {}
    either: list[SecurityRequirement] = [{BEARER_SCHEME: []}, {API_KEY_SCHEME: []}]
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or (path_item := paths.get(route.path_format)) is None:
            continue
        for handler in route.route_handlers:
            public = bool(handler.opt.get(PUBLIC_OPT_KEY))
            for method in handler.http_methods:
                operation: Operation | None = getattr(path_item, method.lower(), None)
                if operation is not None:
                    operation.security = [] if public else list(either)


def build_auth(secret_key: str, db_config: QuoinSQLAlchemyConfig, api_key_hasher: ApiKeyHasher) -> QuoinAuth:
    """The app's authentication config; the caller is looked up in a short session of its own."""

    async def credential_owner(
        credential: Token | ApiKeyCredential, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> UserRead | None:
        if isinstance(credential, ApiKeyCredential):
            async with db_config.lookup_session(connection.app.state) as session:
                owner = await ApiKeyService(session=session, hasher=api_key_hasher).authenticate(credential.key)
            return None if owner is None else msgspec.convert(owner, UserRead, from_attributes=True)
        try:
            user_id = UUID(credential.sub)
        except ValueError:
            return None
        async with db_config.lookup_session(connection.app.state) as session:
            user = await UserRepository(session=session).get_public(user_id)
        return user if user is not None and user.is_active else None

    return QuoinAuth(
        token_secret=secret_key,
        retrieve_user_handler=credential_owner,
        authentication_middleware_class=CredentialsMiddleware,
        exclude=["^/schema"],
        exclude_opt_key=PUBLIC_OPT_KEY,
        require_claims=["exp", "iat", "sub", "jti"],
    )
