"""Argon2id password hashing in processes of its own, a bounded number at a time."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import pickle
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, TypeVar, cast

from quoin.core.security import hashing

if TYPE_CHECKING:
    from collections.abc import Callable

    from quoin.config import PasswordSettings

__all__ = ["PASSWORDS_STATE_KEY", "HashingProcessDiedError", "Passwords"]

PASSWORDS_STATE_KEY = "passwords"  # the app's one Passwords, in its State

_T = TypeVar("_T")

# -P: nothing from the working directory is importable (a stray argon2.py there would run as the hasher).
_COMMAND = (sys.executable, "-P", "-c", f"import {hashing.__name__} as hashing; hashing.serve()")
# On close, how long running hashes get to finish (one takes well under a second
# with sane parameters) before their processes are killed.
_STOP_SECONDS = 3.0


class HashingProcessDiedError(Exception):
    """A hashing process ended in the middle of a call (a signal, the OOM killer)."""


class _HashingProcess:
    """One hashing process (``hashing.serve``), one call at a time over its standard input and output."""

    def __init__(self) -> None:
        # Its stderr is the server's: a traceback there is worth seeing.
        self._process = subprocess.Popen(_COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # noqa: S603  # our own interpreter
        self._calls = cast("IO[bytes]", self._process.stdin)
        self._answers = cast("IO[bytes]", self._process.stdout)

    def call(self, work: Callable[..., _T], args: tuple[object, ...]) -> _T:
        """``work(*args)`` run in the process: its result, or its exception raised here."""
        request = pickle.dumps((work, args))  # before writing: what cannot be sent is not half sent
        try:
            self._calls.write(request)
            self._calls.flush()
            succeeded, value = pickle.load(self._answers)  # noqa: S301  # our own child's answer
        except (OSError, EOFError, pickle.UnpicklingError):
            raise HashingProcessDiedError(f"hashing process {self._process.pid} ended") from None
        if not succeeded:
            raise value
        return cast("_T", value)

    def kill(self) -> None:
        """End it now, whatever it does."""
        self._process.kill()

    def stop(self, seconds: float) -> None:
        """Close its input, which ends it once its call is done; after ``seconds``, kill it."""
        with contextlib.suppress(OSError):
            self._calls.close()
        try:
            self._process.wait(seconds)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._answers.close()


def _kill(processes: list[_HashingProcess]) -> None:
    for process in processes:
        process.kill()


def _block_server_signals() -> None:
    """Run in each thread that starts hashing processes, which are born with its signal mask.

    Blocked until ``hashing.serve`` ignores them, a Ctrl-C cannot interrupt a
    hashing process's start-up with a traceback on the server's stderr. The
    server's own threads still take them.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, hashing.SERVER_SIGNALS)


def _matches_nothing(parameters: hashing.Parameters) -> str:
    """A well-formed hash with these parameters (zero salt, zero digest) that no password produces."""
    time_cost, memory_cost, parallelism = parameters
    salt, digest = (base64.b64encode(bytes(size)).decode().rstrip("=") for size in (16, 32))
    return f"$argon2id$v=19$m={memory_cost},t={time_cost},p={parallelism}${salt}${digest}"


class Passwords:
    """Hashes and verifies passwords with Argon2id.

    The work runs in up to ``ARGON2_CONCURRENCY`` processes (one per CPU by
    default), each started on first need by a thread of the server that
    then hands it one call at a time: a sign-up storm cannot hold more than
    that many hashes' memory at once, and hashing shares neither the
    server's interpreter lock nor its address space. A hashing process is
    niced to 19, imports Argon2 and nothing of the app (``hashing``). One
    that dies is replaced and its call retried once.
    """

    def __init__(self, settings: PasswordSettings) -> None:
        self._parameters: hashing.Parameters = (
            settings.argon2_time_cost,
            settings.argon2_memory_cost,
            settings.argon2_parallelism,
        )
        # Verified against when an email is unknown, so that path costs one
        # verification too and timing does not tell which part was wrong.
        self._unknown_user_hash = _matches_nothing(self._parameters)
        # Threads and processes start on first use: CLI commands and start-up do not pay for them.
        self._threads = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="hashing", initializer=_block_server_signals
        )
        self._own = threading.local()  # each thread's hashing process
        self._processes: set[_HashingProcess] = set()  # every live one, to stop on close
        self._lock = threading.Lock()
        self._closed = False

    def _call(self, work: Callable[..., _T], args: tuple[object, ...]) -> _T:
        """In a thread of the pool: the call, on the thread's own hashing process."""
        process: _HashingProcess | None = getattr(self._own, "process", None)
        if process is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError("password hashing has been stopped")
                process = self._own.process = _HashingProcess()
                self._processes.add(process)
        try:
            return process.call(work, args)
        except HashingProcessDiedError:
            self._own.process = None
            with self._lock:
                self._processes.discard(process)
            process.stop(0)
            raise

    async def _run(self, work: Callable[..., _T], *args: object) -> _T:
        try:
            return await self._submit(work, args)
        except HashingProcessDiedError:
            return await self._submit(work, args)  # once: work that kills its process fails the second time

    async def _submit(self, work: Callable[..., _T], args: tuple[object, ...]) -> _T:
        if self._closed:
            raise RuntimeError("password hashing has been stopped")
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._call, work, args)

    async def hash(self, password: str) -> str:
        """The PHC-format Argon2id hash of ``password``."""
        return await self._run(hashing.hash_password, self._parameters, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches ``password_hash``; with no hash, spend the same work and say no."""
        hashed = password_hash or self._unknown_user_hash
        matched = await self._run(hashing.verify_password, self._parameters, hashed, password)
        return matched and password_hash is not None

    async def close(self) -> None:
        """Stop the hashing processes and refuse more work (app shutdown); bounded by ``_STOP_SECONDS``."""
        with self._lock:
            self._closed = True
            processes = list(self._processes)
        await asyncio.to_thread(self._stop, processes)

    def _stop(self, processes: list[_HashingProcess]) -> None:
        """Running hashes finish, queued ones are cancelled; processes still busy after the bound are killed."""
        deadline = threading.Timer(_STOP_SECONDS, _kill, (processes,))
        deadline.daemon = True
        deadline.start()
        try:
            self._threads.shutdown(wait=True, cancel_futures=True)
        finally:
            deadline.cancel()
        for process in processes:  # idle now: each ends at the end of its input
            process.stop(_STOP_SECONDS)

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        return hashing.hasher(self._parameters).check_needs_rehash(password_hash)
