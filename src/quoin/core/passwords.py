"""Argon2id password hashing, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from quoin.config import PasswordSettings

__all__ = ["Passwords"]


class Passwords:
    """Hashes and verifies passwords with Argon2id; the work runs in a thread so requests keep flowing."""

    def __init__(self, settings: PasswordSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        )
        # Verified against when an email is unknown, so that path costs one
        # verification too and timing does not tell which part was wrong.
        self._dummy_hash = self._hasher.hash("quoin-dummy-password")

    async def hash(self, password: str) -> str:
        """The PHC-format Argon2id hash of ``password``."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; with no hash, spend the same work and say no."""
        try:
            matched = await asyncio.to_thread(self._hasher.verify, password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        return self._hasher.check_needs_rehash(password_hash)
