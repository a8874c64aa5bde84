"""The Argon2 ceiling: how many password hashes per second this machine can make with the app's parameters."""

from __future__ import annotations

import asyncio
import os
import time

import msgspec

from quoin.config import PasswordSettings
from quoin.core.security.passwords import Passwords

__all__ = ["hashing_ceiling"]


async def _hash_until(passwords: Passwords, deadline: float) -> int:
    done = 0
    while time.perf_counter() < deadline:
        await passwords.hash("a benchmark password")
        done += 1
    return done


async def _measure(passwords: Passwords, seconds: float, processes: int) -> float:
    try:
        await asyncio.gather(*(passwords.hash("warm-up") for _ in range(processes)))
        began = time.perf_counter()
        counts = await asyncio.gather(*(_hash_until(passwords, began + seconds) for _ in range(processes)))
        return sum(counts) / (time.perf_counter() - began)
    finally:
        await passwords.close()


def hashing_ceiling(settings: PasswordSettings, seconds: float = 5.0) -> float:
    """Hashes per second, every core hashing."""
    processes = os.cpu_count() or 1
    # The app's own hasher and parameters, but one hashing process per core whatever ARGON2_CONCURRENCY says:
    # this is the machine's ceiling, not the app's setting.
    passwords = Passwords(msgspec.structs.replace(settings, argon2_concurrency=processes))
    return asyncio.run(_measure(passwords, seconds, processes))
