"""Argon2id password hashing, off the event loop, a bounded number at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from quoin.config import PasswordSettings

__all__ = ["PASSWORDS_STATE_KEY", "Passwords"]

PASSWORDS_STATE_KEY = "passwords"  # the app's one Passwords, in its State

_T = TypeVar("_T")


def _yield_cpu_to_requests() -> None:
    """Run this hashing thread (and the lane threads Argon2 starts from it) at the lowest CPU priority.

    Hashing is off the event loop but still competes for the cores: at equal
    priority a sign-up storm slows every other request. Niced, hashing gets
    whatever CPU the requests leave, which is all of it when nothing else runs.
    Linux nices single threads; elsewhere this may apply to the process or fail
    (then it is skipped).
    """
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Passwords:
    """Hashes and verifies passwords with Argon2id.

    The work runs on a thread pool of its own, ``ARGON2_CONCURRENCY`` threads
    (one per CPU by default): the event loop keeps serving other requests, a
    sign-up storm cannot hold more than that many hashes' memory at once, and
    it never starves other work sent to the loop's default executor.
    """

    def __init__(self, settings: PasswordSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="argon2", initializer=_yield_cpu_to_requests
        )

    @cached_property
    def _dummy_hash(self) -> str:
        # Verified against when an email is unknown, so that path costs one
        # verification too and timing does not tell which part was wrong.
        # Made on first use: it costs one hash, which start-up need not pay.
        return self._hasher.hash("quoin-dummy-password")

    async def _run(self, work: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, work)

    async def hash(self, password: str) -> str:
        """The PHC-format Argon2id hash of ``password``."""
        return await self._run(lambda: self._hasher.hash(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; with no hash, spend the same work and say no."""
        try:
            matched = await self._run(lambda: self._hasher.verify(password_hash or self._dummy_hash, password))
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def close(self) -> None:
        """Let the pool's threads end (app shutdown)."""
        self._pool.shutdown(wait=False)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        return self._hasher.check_needs_rehash(password_hash)
