"""SIGTERM on a real ``quoin serve``: readiness fails first, requests keep working, then a clean exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers import PASSWORD
from tests.postgres_server import free_port
from tests.test_serve import DATABASE_VARIABLES


def test_sigterm_drains_then_exits_zero(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(DATABASE_VARIABLES)}
    env |= {"PORT": str(port), "DRAIN_SECONDS": "1.5", "SHUTDOWN_TIMEOUT": "5"}
    process = subprocess.Popen(
        [sys.executable, "-m", "quoin", "serve"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        ready = httpx.get(f"{base}/health/ready", timeout=2)
        live = httpx.get(f"{base}/health/live", timeout=2)
        served = httpx.post(f"{base}/api/v1/users/", json={"email": "late@example.com", "password": PASSWORD})
        exit_code = process.wait(timeout=10)
        stopped_after = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert ready.status_code == 503
    assert ready.json()["detail"] == "The instance is shutting down"
    assert live.status_code == 200
    assert served.status_code == 201
    assert exit_code == 0
    assert 1.4 < stopped_after < 7, f"stopped {stopped_after:.1f}s after SIGTERM"
