"""Password hashing runs in niced processes of its own, which follow the server's life."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from quoin.config import PasswordSettings
from quoin.core.security.passwords import HashingProcessDiedError, Passwords
from tests.support.processes import descendants, running, wait_until_gone

# Starts processes of its own: left out of the fast tier (-m "not process").
pytestmark = pytest.mark.process

CHEAP = PasswordSettings(argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1, argon2_concurrency=1)


@pytest.fixture
async def passwords() -> AsyncIterator[Passwords]:
    hasher = Passwords(CHEAP)
    yield hasher
    await hasher.close()


def _oom_score_adj(pid: int) -> int:
    return int(Path(f"/proc/{pid}/oom_score_adj").read_text())


async def _hashing_processes(passwords: Passwords) -> list[int]:
    """Hash once and return the processes that appeared for it."""
    before = set(descendants(os.getpid()))
    assert PasswordHasher().verify(await passwords.hash("first"), "first")
    return list(set(descendants(os.getpid())) - before)


async def test_hashing_runs_in_a_niced_process_of_its_own(passwords: Passwords) -> None:
    processes = await _hashing_processes(passwords)

    assert len(processes) == 1
    pid = processes[0]
    assert os.getpriority(os.PRIO_PROCESS, pid) == 19
    assert _oom_score_adj(pid) == 1000
    stored = await passwords.hash("secret")
    assert await passwords.verify(stored, "secret")
    assert not await passwords.verify(stored, "wrong")
    assert not await passwords.verify(None, "secret")
    assert not await passwords.verify("not an argon2 hash", "secret")


async def test_a_hashing_process_imports_argon2_and_its_own_module_only(passwords: Passwords) -> None:
    modules = await passwords._run(eval, "sorted(__import__('sys').modules)")

    assert {"argon2", "quoin.core.security.hashing"} <= set(modules)
    libraries = {"litestar", "sqlalchemy", "msgspec", "uvicorn", "asyncio", "multiprocessing", "concurrent"}
    assert not {name for name in modules if name.split(".")[0] in libraries}
    assert not {"quoin.config", "quoin.cli", "quoin.app", "quoin.core.security.passwords"} & set(modules)


async def test_the_work_s_exceptions_and_output_reach_the_server_as_they_would_in_process(
    passwords: Passwords,
) -> None:
    with pytest.raises(ZeroDivisionError):
        await passwords._run(divmod, 1, 0)
    assert await passwords._run(print, "printed on the hashing process's stderr") is None

    assert PasswordHasher().verify(await passwords.hash("after"), "after")


def test_the_console_script_enters_through_a_module_that_imports_nothing() -> None:
    # multiprocessing's "spawn" re-runs the `quoin` script in each of uvicorn's worker processes (WORKERS > 1).
    (script,) = entry_points(group="console_scripts", name="quoin")
    probe = "import sys, quoin.console; print(' '.join(sorted(sys.modules)))"
    modules = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()

    assert script.value == "quoin.console:main"
    assert "quoin.console" in modules
    assert not {name for name in modules if name.split(".")[0] in {"litestar", "sqlalchemy", "click", "uvicorn"}}


async def test_a_killed_hashing_process_is_replaced(passwords: Passwords) -> None:
    (process,) = await _hashing_processes(passwords)
    os.kill(process, signal.SIGKILL)
    assert not wait_until_gone({process})

    stored = await passwords.hash("after")

    assert PasswordHasher().verify(stored, "after")
    assert await passwords.verify(stored, "after")


async def test_work_that_kills_its_process_is_retried_once_then_fails(passwords: Passwords) -> None:
    with pytest.raises(HashingProcessDiedError):
        await passwords._run(os._exit, 1)

    assert PasswordHasher().verify(await passwords.hash("after"), "after")


@pytest.mark.parametrize("server_signal", [signal.SIGINT, signal.SIGTERM])
async def test_the_server_s_signals_are_left_to_the_server(passwords: Passwords, server_signal: signal.Signals) -> None:
    # A terminal's Ctrl-C reaches the whole process group; systemd signals every process of the service.
    (process,) = await _hashing_processes(passwords)

    os.kill(process, server_signal)

    assert PasswordHasher().verify(await passwords.hash("still"), "still")
    assert running(process)


async def test_closing_stops_the_processes_and_refuses_more_work() -> None:
    passwords = Passwords(CHEAP)
    (process,) = await _hashing_processes(passwords)

    await passwords.close()

    assert not wait_until_gone({process})
    with pytest.raises(RuntimeError, match="stopped"):
        await passwords.hash("late")


async def test_closing_kills_a_process_still_busy_after_a_few_seconds() -> None:
    passwords = Passwords(CHEAP)
    (process,) = await _hashing_processes(passwords)
    stuck = asyncio.ensure_future(passwords._run(time.sleep, 600))
    await asyncio.sleep(0.5)  # the sleep has reached the process

    started = time.monotonic()
    await passwords.close()

    assert time.monotonic() - started < 15
    assert not running(process)
    with pytest.raises(RuntimeError, match="stopped"):
        await stuck


_SERVER = """
import asyncio, time
from quoin.config import PasswordSettings
from quoin.core.security.passwords import Passwords

async def main():
    passwords = Passwords(PasswordSettings(argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1))
    await asyncio.gather(passwords.hash("a"), passwords.hash("b"))
    print("hashed", flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def test_hashing_processes_end_when_the_server_is_killed() -> None:
    with subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 60)
        assert ready, "the server did not report its hashing processes"
        assert server.stdout.readline() == "hashed\n"
        children = set(descendants(server.pid))
        assert children
        assert all(running(pid) for pid in children)

        server.kill()

    assert not wait_until_gone(children)
