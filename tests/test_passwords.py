"""Password hashing runs in niced processes of its own, which follow the server's life."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from quoin.config import PasswordSettings
from quoin.core.passwords import Passwords

CHEAP = PasswordSettings(argon2_time_cost=1, argon2_memory_cost=1024, argon2_parallelism=1, argon2_concurrency=1)


@pytest.fixture
async def passwords() -> AsyncIterator[Passwords]:
    hasher = Passwords(CHEAP)
    yield hasher
    hasher.close()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_until_gone(pids: set[int], seconds: float = 15) -> set[int]:
    deadline = time.monotonic() + seconds
    while (alive := {pid for pid in pids if _running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


async def _hashing_processes(passwords: Passwords) -> Iterator[multiprocessing.Process]:
    before = set(multiprocessing.active_children())
    assert PasswordHasher().verify(await passwords.hash("first"), "first")
    return iter(set(multiprocessing.active_children()) - before)


async def test_hashing_runs_in_a_niced_process_of_its_own(passwords: Passwords) -> None:
    processes = list(await _hashing_processes(passwords))

    assert len(processes) == 1
    assert processes[0].pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, processes[0].pid) == 19
    stored = await passwords.hash("secret")
    assert await passwords.verify(stored, "secret")
    assert not await passwords.verify(stored, "wrong")
    assert not await passwords.verify(None, "secret")
    assert not await passwords.verify("not an argon2 hash", "secret")


async def test_a_killed_hashing_process_is_replaced(passwords: Passwords) -> None:
    (process,) = await _hashing_processes(passwords)
    os.kill(process.pid, signal.SIGKILL)
    assert not _wait_until_gone({process.pid})

    stored = await passwords.hash("after")

    assert PasswordHasher().verify(stored, "after")
    assert await passwords.verify(stored, "after")


async def test_ctrl_c_is_left_to_the_server(passwords: Passwords) -> None:
    (process,) = await _hashing_processes(passwords)

    os.kill(process.pid, signal.SIGINT)

    assert PasswordHasher().verify(await passwords.hash("still"), "still")
    assert process.is_alive()


_SERVER = """
import asyncio, multiprocessing, sys, time
from quoin.config import PasswordSettings
from quoin.core.passwords import Passwords

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
        children = {int(pid) for pid in server.stdout.readline().split()}
        assert children
        assert all(_running(pid) for pid in children)

        server.kill()

    assert not _wait_until_gone(children)


def test_the_console_script_starts_from_a_module_that_imports_nothing() -> None:
    (script,) = entry_points(group="console_scripts", name="quoin")

    assert script.value == "quoin.console:main"


def test_a_hashing_process_imports_neither_the_app_nor_its_libraries() -> None:
    # A hashing process imports quoin.core.passwords and, started under the
    # `quoin` console script, the script's module again (multiprocessing "spawn").
    probe = "import sys, quoin.console, quoin.core.passwords; print(' '.join(sorted(sys.modules)))"
    modules = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )

    assert {"quoin.console", "quoin.core.passwords", "argon2"} <= modules
    assert not {name for name in modules if name.split(".")[0] in {"litestar", "sqlalchemy", "msgspec", "uvicorn"}}
    assert "quoin.cli" not in modules
    assert "quoin.config" not in modules
