"""The key format and its keyed hash.

A key reads ``qk_<12 hex>_<43 url-safe chars>``: the ``qk_`` marker makes a
leaked key recognisable to secret scanners, the hex part is the public prefix
used to find the row, and the rest is 256 random bits. The table stores only an
HMAC-SHA256 of the whole key under a server secret, so a copy of the database
does not yield working keys.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["ApiKeyHasher", "NewKey", "hasher_for"]

_MARKER = "qk"
_KEY_SHAPE = re.compile(rf"^({_MARKER}_[0-9a-f]{{12}})_[A-Za-z0-9_-]{{43}}$")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: what to show once, and what to store."""

    key: str
    prefix: str
    key_hash: str


class ApiKeyHasher:
    """Generates keys and checks presented keys against stored hashes."""

    def __init__(self, secret_key: str) -> None:
        # A key of its own, derived from the app secret, so the same secret is never used for two purposes.
        self._secret = hmac.digest(secret_key.encode(), b"quoin api key hashing", hashlib.sha256)

    def digest(self, key: str) -> str:
        """The stored form of ``key``."""
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()

    def generate(self) -> NewKey:
        """A new random key with its prefix and hash."""
        prefix = f"{_MARKER}_{secrets.token_hex(6)}"
        key = f"{prefix}_{secrets.token_urlsafe(32)}"
        return NewKey(key=key, prefix=prefix, key_hash=self.digest(key))

    @staticmethod
    def prefix_of(key: str) -> str | None:
        """The lookup prefix of a well-formed key, or None for anything else."""
        shaped = _KEY_SHAPE.fullmatch(key)
        return shaped.group(1) if shaped else None

    def matches(self, key: str, key_hash: str) -> bool:
        """Constant-time comparison of a presented key with a stored hash."""
        return hmac.compare_digest(self.digest(key), key_hash)


@functools.cache
def hasher_for(secret_key: str) -> ApiKeyHasher:
    """The hasher for this secret, one per process: routes and the credential resolver share it."""
    return ApiKeyHasher(secret_key)
