"""Whom a request counts as for rate limits, decided before authentication without the database."""

from __future__ import annotations

from collections.abc import Callable

from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException
from litestar.types import Scope

from quoin.auth.authentication import QuoinAuth, bearer_token
from quoin.auth.credentials import header_value

__all__ = ["caller_identity"]


def caller_identity(auth: QuoinAuth) -> Callable[[Scope], str | None]:
    """The user a request's credential names, when that is known without the database; else None.

    A bearer token counts as its user only when its signature and expiry hold,
    so nobody can spend another user's budget; a registered credential (an API
    key) counts as its owner when its resolver remembers it as valid
    (``known_owner``), so all of a user's tokens and keys share one budget.
    Anything else counts as its client address. Deciding here, once, keeps
    rate limiting to one counter round trip per request. A token is verified
    with the authentication's own verifier, so it is checked once per process.
    """
    resolvers = auth.credential_resolvers

    def identify(scope: Scope) -> str | None:
        headers = Headers.from_scope(scope)
        for resolver in resolvers:
            if (value := header_value(headers, resolver.header)) is not None:
                owner = resolver.known_owner(value)
                return None if owner is None else f"user:{owner}"
        token = bearer_token(header_value(headers, "Authorization"))
        if token is None:
            return None
        try:
            return f"user:{auth.tokens.verify(token).sub}"
        except NotAuthorizedException:
            return None

    return identify
