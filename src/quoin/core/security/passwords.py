"""Argon2id password hashing in processes of its own, a bounded number at a time."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.process import BaseProcess

    from quoin.config import PasswordSettings

__all__ = ["PASSWORDS_STATE_KEY", "Passwords"]

PASSWORDS_STATE_KEY = "passwords"  # the app's one Passwords, in its State

_T = TypeVar("_T")
_Parameters = tuple[int, int, int]  # time cost, memory cost (KiB), parallelism

# The signals that stop the server. A terminal's Ctrl-C goes to its whole process
# group and systemd (or `tini -g`) sends SIGTERM to every process of the service:
# a hashing process left to die of them would break the pool under a draining server.
_SERVER_SIGNALS = {signal.SIGINT, signal.SIGTERM}
# On close, how long running hashes get to finish (one takes well under a second
# with sane parameters) before their processes are killed.
_STOP_SECONDS = 3.0


class _HashingProcess(SpawnProcess):
    """A spawned process that is born with the server's signals blocked.

    It ignores them once started (``_start_hashing_process``); blocked until then,
    a Ctrl-C cannot interrupt its start-up with a traceback on the server's stderr.
    """

    def start(self) -> None:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SERVER_SIGNALS)
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _HashingContext(SpawnContext):
    Process = _HashingProcess


def _start_hashing_process() -> None:
    """Run in each hashing process once, before any hash.

    The lowest CPU priority (Argon2's lane threads inherit it), so hashing
    gets what the requests leave. The kernel's OOM killer takes a hashing
    process before the server where it picks one process (the pool replaces
    it). SIGINT and SIGTERM are left to the server, which stops the pool
    (``Passwords.close``); a server killed outright cannot, so the process
    also ends when its parent does.
    """
    for server_signal in _SERVER_SIGNALS:
        signal.signal(server_signal, signal.SIG_IGN)  # also drops one that came during start-up
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SERVER_SIGNALS)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")
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


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool`` within about ``_STOP_SECONDS`` and release what it holds.

    Running hashes finish, queued ones are cancelled, and processes still busy
    after the bound are killed. The shutdown is waited for: it joins the
    processes and closes the pool's queues, whose named semaphores are only
    released then; a server that ended before (a signal ends uvicorn's worker
    processes without Python's exit handlers) would leave them to
    multiprocessing's resource tracker, which warns about leaked semaphores.
    """
    deadline = threading.Timer(_STOP_SECONDS, _kill, (list(pool._processes.values()),))
    deadline.daemon = True
    deadline.start()
    try:
        pool.shutdown(wait=True, cancel_futures=True)
    finally:
        deadline.cancel()


def _kill(processes: list[BaseProcess]) -> None:
    for process in processes:
        process.kill()


def _hash(parameters: _Parameters, password: str) -> str:
    return _hasher(parameters).hash(password)


def _verify(parameters: _Parameters, password_hash: str, password: str) -> bool:
    try:
        return _hasher(parameters).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _matches_nothing(parameters: _Parameters) -> str:
    """A well-formed hash with these parameters (zero salt, zero digest) that no password produces."""
    time_cost, memory_cost, parallelism = parameters
    salt, digest = (base64.b64encode(bytes(size)).decode().rstrip("=") for size in (16, 32))
    return f"$argon2id$v=19$m={memory_cost},t={time_cost},p={parallelism}${salt}${digest}"


class Passwords:
    """Hashes and verifies passwords with Argon2id.

    The work runs in up to ``ARGON2_CONCURRENCY`` processes (one per CPU by
    default), started on first use with multiprocessing's "spawn" and niced
    to 19: a sign-up storm cannot hold more than that many hashes' memory at
    once, and hashing shares neither the server's interpreter lock nor its
    address space. A hashing process that dies is replaced and its call
    retried once.
    """

    def __init__(self, settings: PasswordSettings) -> None:
        self._parameters: _Parameters = (
            settings.argon2_time_cost,
            settings.argon2_memory_cost,
            settings.argon2_parallelism,
        )
        # Verified against when an email is unknown, so that path costs one
        # verification too and timing does not tell which part was wrong.
        self._unknown_user_hash = _matches_nothing(self._parameters)
        self._processes = settings.concurrency
        # Made on first use: even an idle pool starts multiprocessing's resource
        # tracker, a process that CLI commands and start-up need not pay for.
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    def _current_pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("password hashing has been stopped")
        if self._pool is None:
            # A spawned process imports this module and re-runs the parent's main
            # script (the `quoin` console script or `python -m quoin`: both light).
            # Forking the server instead would copy its memory and held locks.
            self._pool = ProcessPoolExecutor(
                max_workers=self._processes,
                mp_context=_HashingContext(),
                initializer=_start_hashing_process,
            )
        return self._pool

    async def _run(self, work: Callable[..., _T], *args: object) -> _T:
        loop = asyncio.get_running_loop()
        call = functools.partial(work, *args)
        pool = self._current_pool()
        try:
            return await loop.run_in_executor(pool, call)
        except BrokenProcessPool:
            # A hashing process died (a signal, the OOM killer): every later
            # call on that pool would fail, so the first to notice replaces it.
            if self._pool is pool:
                self._pool = None
                pool.shutdown(wait=False)
            return await loop.run_in_executor(self._current_pool(), call)

    async def hash(self, password: str) -> str:
        """The PHC-format Argon2id hash of ``password``."""
        return await self._run(_hash, self._parameters, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; with no hash, spend the same work and say no."""
        matched = await self._run(_verify, self._parameters, password_hash or self._unknown_user_hash, password)
        return matched and password_hash is not None

    async def close(self) -> None:
        """Stop the hashing processes and refuse more work (app shutdown); bounded by ``_STOP_SECONDS``."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(_stop, pool)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        return _hasher(self._parameters).check_needs_rehash(password_hash)
