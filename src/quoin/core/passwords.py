"""Argon2id password hashing, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher

from quoin.config import PasswordSettings

__all__ = ["Passwords"]


class Passwords:
    """Hashes passwords with Argon2id; the work runs in a thread so requests keep flowing."""

    def __init__(self, settings: PasswordSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        )

    async def hash(self, password: str) -> str:
        """The PHC-format Argon2id hash of ``password``."""
        return await asyncio.to_thread(self._hasher.hash, password)
