"""The Argon2 work, and the hashing process that runs it for ``Passwords``.

A hashing process is ``python -c`` calling ``serve``: it imports Argon2 and
this module, nothing of the app, and no multiprocessing (no resource tracker
beside it, no re-run of the server's ``__main__``). It reads pickled calls on
its standard input and writes each answer on its standard output, one call
at a time, and ends when its input does: when the server stops the pool, and
when the server dies, however it dies.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import signal
import sys
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SERVER_SIGNALS", "Parameters", "hash_password", "hasher", "serve", "verify_password"]

Parameters = tuple[int, int, int]  # time cost, memory cost (KiB), parallelism

# The signals that stop the server. A terminal's Ctrl-C goes to its whole process
# group and systemd (or `tini -g`) sends SIGTERM to every process of the service:
# a hashing process left to die of them would fail hashes under a draining server.
SERVER_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@functools.cache
def hasher(parameters: Parameters) -> PasswordHasher:
    """The Argon2id hasher with these parameters."""
    time_cost, memory_cost, parallelism = parameters
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hash_password(parameters: Parameters, password: str) -> str:
    """The PHC-format hash of ``password``."""
    return hasher(parameters).hash(password)


def verify_password(parameters: Parameters, password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash matches nothing."""
    try:
        return hasher(parameters).verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def serve() -> None:
    """The hashing process's main: answer calls until the server closes its input.

    The lowest CPU priority (Argon2's lane threads inherit it), so hashing
    gets what the requests leave. The kernel's OOM killer takes a hashing
    process before the server where it picks one process (the server starts
    another). SIGINT and SIGTERM are left to the server, which stops its
    hashing processes; the server starts them with both blocked, so one that
    comes during start-up is dropped here, not turned into a traceback.
    """
    for server_signal in SERVER_SIGNALS:
        signal.signal(server_signal, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SERVER_SIGNALS)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as oom_score_adj:
        oom_score_adj.write("1000")
    calls, answers = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever the work prints goes to stderr, not into the answers
    # Input ended, or cut by the server's death mid-call; or no server to answer.
    with contextlib.suppress(EOFError, pickle.UnpicklingError, BrokenPipeError), answers:
        while True:
            work, args = pickle.load(calls)  # noqa: S301  # from the server that started this process
            answers.write(_answer(work, args))
            answers.flush()


def _answer(work: Callable[..., Any], args: tuple[Any, ...]) -> bytes:
    try:
        return pickle.dumps((True, work(*args)))
    except Exception as exc:  # raised again in the server, as a process pool would
        return pickle.dumps((False, exc))
