"""Whom a request counts as for rate limits, before and after authentication."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException
from litestar.types import Scope

from quoin.auth.authentication import QuoinAuth, bearer_token
from quoin.auth.credentials import header_value
from quoin.core.observability.access_log import user_id_of

__all__ = ["credential_owner_identity", "token_user_identity"]


def token_user_identity(auth: QuoinAuth) -> Callable[[Scope], str | None]:
    """The user of a valid bearer token, checked without the database: for rate limits before authentication.

    A token counts as its user only when its signature and expiry hold, so
    nobody can spend another user's budget. Registered credentials (API keys)
    cannot be checked without the database; before authentication they count
    as their address, and after it as their owner (``credential_owner_identity``).
    It verifies with the authentication's own verifier, so a token is checked
    once per process.
    """
    other_headers: Sequence[str] = tuple(resolver.header for resolver in auth.credential_resolvers)

    def identify(scope: Scope) -> str | None:
        headers = Headers.from_scope(scope)
        if any(headers.get(name) is not None for name in other_headers):
            return None
        token = bearer_token(header_value(headers, "Authorization"))
        if token is None:
            return None
        try:
            return f"user:{auth.tokens.verify(token).sub}"
        except NotAuthorizedException:
            return None

    return identify


def credential_owner_identity(scope: Scope) -> str | None:
    """After authentication: the owner of a registered credential (bearer requests carry their ``Token``).

    So all of a user's tokens and keys share its budget.
    """
    if not isinstance(scope.get("auth"), str):
        return None
    user_id = user_id_of(scope)
    return None if user_id is None else f"user:{user_id}"
