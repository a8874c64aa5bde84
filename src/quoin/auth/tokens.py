"""Bearer token verification that remembers the tokens it has verified.

A client sends the same access token on every request for its whole
lifetime; checking its HMAC signature and decoding its claims again each
time was a visible share of a ``GET /users/{id}`` (docs/performance.md). A verified token stays valid
until its ``exp`` (the signature and the other claims cannot change), so a
remembered one is only checked for expiry. Nothing about the *user* is
remembered here: callers are remembered by the authentication, only as long
as no change to their row is announced (``quoin.db.changes``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

__all__ = ["TokenVerifier"]


class TokenVerifier:
    """Decodes tokens with ``decode`` (which raises ``NotAuthorizedException``), remembering the last ``size``."""

    def __init__(self, decode: Callable[[str], Token], size: int = 4096) -> None:
        self._decode = decode
        self._size = size
        # Insertion-ordered: when full, the oldest entry goes (a forgotten token is just verified again).
        self._verified: dict[str, Token] = {}

    def verify(self, encoded: str) -> Token:
        """The decoded token, or ``NotAuthorizedException`` when its signature or claims fail or it has expired."""
        token = self._verified.get(encoded)
        if token is not None:
            if token.exp > datetime.now(UTC):
                return token
            del self._verified[encoded]
            raise NotAuthorizedException("Token has expired")
        token = self._decode(encoded)
        if len(self._verified) >= self._size:
            del self._verified[next(iter(self._verified))]
        self._verified[encoded] = token
        return token
