"""Password hashing runs in niced processes of its own, which follow the server's life."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from quoin.config import PasswordSettings
from quoin.core.security.passwords import Passwords
from tests.support.processes import running, wait_until_gone

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


async def _hashing_processes(passwords: Passwords) -> list[multiprocessing.Process]:
    """Hash once and return the processes that appeared for it."""
    before = set(multiprocessing.active_children())
    assert PasswordHasher().verify(await passwords.hash("first"), "first")
    return list(set(multiprocessing.active_children()) - before)


async def test_hashing_runs_in_a_niced_process_of_its_own(passwords: Passwords) -> None:
    processes = await _hashing_processes(passwords)

    assert len(processes) == 1
    pid = processes[0].pid
    assert pid is not None
    assert pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, pid) == 19
    assert _oom_score_adj(pid) == 1000
    stored = await passwords.hash("secret")
    assert await passwords.verify(stored, "secret")
    assert not await passwords.verify(stored, "wrong")
    assert not await passwords.verify(None, "secret")
    assert not await passwords.verify("not an argon2 hash", "secret")


async def test_a_hashing_process_imports_neither_the_app_nor_its_libraries(passwords: Passwords) -> None:
    # It imports quoin.core.security.passwords and re-runs the parent's main script (here pytest's).
    modules = await passwords._run(eval, "sorted(__import__('sys').modules)")

    assert "quoin.core.security.passwords" in modules
    assert not {name for name in modules if name.split(".")[0] in {"litestar", "sqlalchemy", "msgspec", "uvicorn"}}
    assert not {"quoin.config", "quoin.cli", "quoin.app"} & set(modules)


def test_the_console_script_enters_through_a_module_that_imports_nothing() -> None:
    # multiprocessing's "spawn" re-runs the `quoin` script in every hashing process.
    (script,) = entry_points(group="console_scripts", name="quoin")
    probe = "import sys, quoin.console; print(' '.join(sorted(sys.modules)))"
    modules = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()

    assert script.value == "quoin.console:main"
    assert "quoin.console" in modules
    assert not {name for name in modules if name.split(".")[0] in {"litestar", "sqlalchemy", "click", "uvicorn"}}


async def test_a_killed_hashing_process_is_replaced(passwords: Passwords) -> None:
    (process,) = await _hashing_processes(passwords)
    assert process.pid is not None
    os.kill(process.pid, signal.SIGKILL)
    assert not wait_until_gone({process.pid})

    stored = await passwords.hash("after")

    assert PasswordHasher().verify(stored, "after")
    assert await passwords.verify(stored, "after")


async def test_work_that_kills_its_process_is_retried_once_then_fails(passwords: Passwords) -> None:
    with pytest.raises(BrokenProcessPool):
        await passwords._run(os._exit, 1)

    assert PasswordHasher().verify(await passwords.hash("after"), "after")


@pytest.mark.parametrize("server_signal", [signal.SIGINT, signal.SIGTERM])
async def test_the_server_s_signals_are_left_to_the_server(passwords: Passwords, server_signal: signal.Signals) -> None:
    # A terminal's Ctrl-C reaches the whole process group; systemd signals every process of the service.
    (process,) = await _hashing_processes(passwords)
    assert process.pid is not None

    os.kill(process.pid, server_signal)

    assert PasswordHasher().verify(await passwords.hash("still"), "still")
    assert process.is_alive()


async def test_closing_stops_the_processes_and_refuses_more_work() -> None:
    passwords = Passwords(CHEAP)
    (process,) = await _hashing_processes(passwords)
    assert process.pid is not None

    await passwords.close()

    assert not wait_until_gone({process.pid})
    with pytest.raises(RuntimeError, match="stopped"):
        await passwords.hash("late")


async def test_closing_kills_a_process_still_busy_after_a_few_seconds() -> None:
    passwords = Passwords(CHEAP)
    (process,) = await _hashing_processes(passwords)
    assert process.pid is not None
    stuck = asyncio.ensure_future(passwords._run(time.sleep, 600))
    await asyncio.sleep(0.5)  # the sleep has reached the process

    started = time.monotonic()
    await passwords.close()

    assert time.monotonic() - started < 15
    assert not running(process.pid)
    with pytest.raises(RuntimeError, match="stopped"):
        await stuck


_SERVER = """
import asyncio, multiprocessing, time
from quoin.config import PasswordSettings
from quoin.core.security.passwords import Passwords

async def main():
    passwords = Passwords(PasswordSettings(argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1))
    await asyncio.gather(passwords.hash("a"), passwords.hash("b"))
    print(" ".join(str(child.pid) for child in multiprocessing.active_children()), flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def test_hashing_processes_end_when_the_server_is_killed() -> None:
    with subprocess.Popen([sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 60)
        assert ready, "the server did not report its hashing processes"
        children = {int(pid) for pid in server.stdout.readline().split()}
        assert children
        assert all(running(pid) for pid in children)

        server.kill()

    assert not wait_until_gone(children)
