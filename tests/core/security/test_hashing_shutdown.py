"""Signals on a real ``quoin serve`` in production while it hashes: it stops, and nothing it started outlives it."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL

from tests.support.helpers import PASSWORD, USERS
from tests.support.processes import descendants, running
from tests.support.serve import ServeProcess
from tests.support.settings import JSON_LOGS, ROOMY_LIMITS

# Starts servers or processes of its own: left out of the fast tier (-m "not process").
pytestmark = pytest.mark.process

# A hash costs some milliseconds: a storm keeps the hashing processes busy when the signals come.
HASHING = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "16384", "ARGON2_PARALLELISM": "1"}


def wait_until_ready(base: str, seconds: float = 60) -> None:
    """Wait until ``/health/ready`` answers 200."""
    deadline = time.monotonic() + seconds
    while True:
        with suppress(httpx.TransportError):
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        assert time.monotonic() < deadline, f"not ready within {seconds} s"
        time.sleep(0.1)


@contextmanager
def signup_storm(base: str, clients: int = 6) -> Iterator[list[int]]:
    """Sign-ups from ``clients`` threads until the block ends; yields the statuses answered so far."""
    statuses: list[int] = []
    numbers = itertools.count()
    stop = threading.Event()

    def sign_up() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop.is_set():
                email = f"storm{next(numbers)}.{base.rsplit(':', 1)[1]}@example.com"
                with suppress(httpx.TransportError):  # the server stops listening under the storm
                    statuses.append(client.post(USERS, json={"email": email, "password": PASSWORD}).status_code)

    threads = [threading.Thread(target=sign_up, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


@pytest.mark.parametrize(
    ("signals", "to_group", "workers"),
    [
        pytest.param([signal.SIGTERM] * 2, False, "1", id="SIGTERM twice"),
        pytest.param([signal.SIGTERM] * 3, False, "1", id="SIGTERM three times"),
        pytest.param([signal.SIGINT], True, "1", id="Ctrl-C to the process group"),
        pytest.param([signal.SIGTERM] * 2, False, "2", id="two workers, SIGTERM twice"),
        pytest.param([signal.SIGINT], True, "2", id="two workers, Ctrl-C to the process group"),
    ],
)
def test_signals_during_a_signup_storm_stop_the_server_and_every_process_it_started(
    tmp_path: Path, own_database: URL, signals: list[signal.Signals], to_group: bool, workers: str
) -> None:
    env = {**JSON_LOGS, **ROOMY_LIMITS, **HASHING, "WORKERS": workers, "DRAIN_SECONDS": "5", "SHUTDOWN_TIMEOUT": "5"}
    server = ServeProcess(tmp_path, own_database, **env)
    left: set[int] = set()
    try:
        wait_until_ready(server.base)
        with signup_storm(server.base) as statuses:
            deadline = time.monotonic() + 60
            while statuses.count(201) < 20:  # every hashing process has started and is busy
                assert time.monotonic() < deadline, f"sign-ups answered {statuses[-5:]}"
                time.sleep(0.05)
            started = set(descendants(server.process.pid))
            hashing = {pid for pid in started if os.getpriority(os.PRIO_PROCESS, pid) == 19}
            for number in signals:
                # Apart enough that each is handled on its own (the same signal pending twice is one).
                (os.killpg if to_group else os.kill)(server.process.pid, number)
                time.sleep(0.2)
            code = server.process.wait(timeout=60)
        time.sleep(1)
        left = {pid for pid in started if running(pid)}
    finally:
        for pid in left:  # a failure leaves nothing running behind
            os.kill(pid, signal.SIGKILL)
        server.stop()

    assert hashing
    assert code == 0
    assert left == set()
    assert not [line for line in server.lines if "leaked semaphore" in line]
    not_json = [line for line in server.lines if not _is_json(line)]
    assert not not_json, "".join(not_json)


def _is_json(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
