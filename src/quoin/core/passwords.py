"""Argon2id password hashing in processes of its own, a bounded number at a time."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.process import BaseProcess

    from quoin.config import PasswordSettings

__all__ = ["PASSWORDS_STATE_KEY", "Passwords"]

PASSWORDS_STATE_KEY = "passwords"  # the app's one Passwords, in its State

_P = ParamSpec("_P")
_T = TypeVar("_T")
_Parameters = tuple[int, int, int]  # time cost, memory cost (KiB), parallelism


def _start_hashing_process() -> None:
    """Run in each hashing process once: the lowest CPU priority, and an end that follows the server's.

    Niced, hashing gets whatever CPU the requests leave, which is all of it
    when nothing else runs; Argon2's lane threads inherit the priority.
    Ctrl-C is left to the server, which stops the pool when it shuts down; a
    server killed outright cannot, so the process also ends when its parent does.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(19)
    server = multiprocessing.parent_process()
    if server is not None:
        threading.Thread(target=_exit_after, args=(server,), name="server-watch", daemon=True).start()


def _exit_after(server: BaseProcess) -> None:
    server.join()
    os._exit(1)


@functools.cache
def _hasher(parameters: _Parameters) -> PasswordHasher:
    time_cost, memory_cost, parallelism = parameters
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _hash(parameters: _Parameters, password: str) -> str:
    return _hasher(parameters).hash(password)


def _verify(parameters: _Parameters, password_hash: str, password: str) -> bool:
    try:
        return _hasher(parameters).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Passwords:
    """Hashes and verifies passwords with Argon2id.

    The work runs in up to ``ARGON2_CONCURRENCY`` processes (one per CPU by
    default), started on first use and niced to 19: a sign-up storm cannot
    hold more than that many hashes' memory at once, and hashing shares
    neither the server's interpreter lock nor its address space. As niced
    threads of the server, hashing still cost the event loop about a fifth
    of its core during a sign-up storm (``docs/performance.md``). A hashing
    process that dies is replaced and its hash retried once.
    """

    def __init__(self, settings: PasswordSettings) -> None:
        self._parameters: _Parameters = (
            settings.argon2_time_cost,
            settings.argon2_memory_cost,
            settings.argon2_parallelism,
        )
        self._processes = settings.concurrency
        # Made on first use: even an idle pool starts multiprocessing's
        # resource tracker, a process that start-up and CLI commands need not pay for.
        self._pool: ProcessPoolExecutor | None = None
        self._dummy_hash: str | None = None

    def _current_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # "spawn": a fresh interpreter that imports this module only. Forking the
            # server would copy its memory and its threads' held locks.
            self._pool = ProcessPoolExecutor(
                max_workers=self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_hashing_process,
            )
        return self._pool

    async def _run(self, work: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        loop = asyncio.get_running_loop()
        pool = self._current_pool()
        try:
            return await loop.run_in_executor(pool, functools.partial(work, *args, **kwargs))
        except BrokenProcessPool:
            # A hashing process died (the OOM killer, a signal): every later
            # call on that pool would fail, so the first to notice replaces it.
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
            return await loop.run_in_executor(self._current_pool(), functools.partial(work, *args, **kwargs))

    async def hash(self, password: str) -> str:
        """The PHC-format Argon2id hash of ``password``."""
        return await self._run(_hash, self._parameters, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; with no hash, spend the same work and say no."""
        if password_hash is None:
            # Verified against when an email is unknown, so that path costs one
            # verification too and timing does not tell which part was wrong.
            # Made on first use: it costs one hash, which start-up need not pay.
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash("quoin-dummy-password")
            await self._run(_verify, self._parameters, self._dummy_hash, password)
            return False
        return await self._run(_verify, self._parameters, password_hash, password)

    def close(self) -> None:
        """Stop the hashing processes (app shutdown); work still queued is dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        return _hasher(self._parameters).check_needs_rehash(password_hash)
