"""Whom a request counts as for rate limits, decided before authentication without the database."""

from __future__ import annotations

from collections.abc import Callable

from litestar.datastructures import Headers
from litestar.exceptions import NotAuthorizedException
from litestar.types import Scope

from quoin.auth.authentication import PresentedCredential, QuoinAuth, presented

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
        credential = presented(Headers.from_scope(scope), resolvers)
        if isinstance(credential, PresentedCredential):
            owner = credential.resolver.known_owner(credential.value)
            return None if owner is None else f"user:{owner}"
        if credential is None:
            return None
        try:
            return f"user:{auth.tokens.verify(credential).sub}"
        except NotAuthorizedException:
            return None

    return identify
