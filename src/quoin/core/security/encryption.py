"""Field-level encryption of personal data at rest, with key rotation.

Values are Fernet tokens (AES-128-CBC with HMAC-SHA256: authenticated, so a
wrong key or a tampered value is an error, never garbage). ``ENCRYPTION_KEYS``
lists keys newest first: the newest encrypts, every one decrypts, so a new key
can be rolled out before old rows are rewritten (``quoin users reencrypt``).

The column type finds its cipher through the engine's dialect, so each app
(and each test app) uses the keys it was configured with, with no global key.
"""

from __future__ import annotations

import weakref
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, Text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import TypeDecorator

__all__ = ["DecryptionError", "EncryptedText", "FieldCipher", "is_token"]

# Every Fernet token starts with version byte 0x80, which base64-encodes to "gAAAAA".
_TOKEN_MARK = "gAAAAA"  # noqa: S105  # a format marker, not a secret
_CIPHERS: weakref.WeakKeyDictionary[Dialect, FieldCipher] = weakref.WeakKeyDictionary()


class DecryptionError(Exception):
    """A stored value cannot be decrypted with any configured key."""


def is_token(value: str) -> bool:
    """Whether ``value`` looks like an encrypted value rather than plaintext written before encryption."""
    return value.startswith(_TOKEN_MARK)


class FieldCipher:
    """Encrypts with the newest key, decrypts with any of them."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        try:
            fernets = [Fernet(key.encode()) for key in keys]
        except ValueError as exc:
            raise ValueError("ENCRYPTION_KEYS must be url-safe base64 Fernet keys of 32 bytes") from exc
        self._newest = fernets[0]
        self._all = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        """A token for ``plaintext`` under the newest key."""
        return self._all.encrypt(plaintext.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The plaintext of a stored value; plaintext from before encryption passes through."""
        if not is_token(stored):
            return stored
        try:
            return self._all.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise DecryptionError(
                "an encrypted value cannot be decrypted with any key in ENCRYPTION_KEYS "
                "(a key it was written with is missing, or the value was altered)"
            ) from None

    def is_current(self, stored: str) -> bool:
        """Whether ``stored`` is already encrypted with the newest key."""
        if not is_token(stored):
            return False
        try:
            self._newest.decrypt(stored.encode())
        except InvalidToken:
            return False
        return True

    def bind(self, engine: AsyncEngine) -> None:
        """Make ``EncryptedText`` columns read and written through ``engine`` use this cipher."""
        _CIPHERS[engine.sync_engine.dialect] = self


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; the application sees plaintext."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt on the way in."""
        return None if value is None else _cipher_for(dialect).encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        """Decrypt on the way out."""
        return None if value is None else _cipher_for(dialect).decrypt(str(value))


def _cipher_for(dialect: Dialect) -> FieldCipher:
    try:
        return _CIPHERS[dialect]
    except KeyError:
        raise DecryptionError("no encryption keys are configured for this database engine") from None
