"""SIGTERM on a real ``quoin serve``: readiness fails first, requests keep working, then a clean exit."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.support.helpers import PASSWORD
from tests.support.serve import start_server, stop_server

# Starts servers or processes of its own: left out of the fast tier (-m "not process").
pytestmark = pytest.mark.process


def test_sigterm_drains_then_exits_zero(tmp_path: Path) -> None:
    process, base = start_server(tmp_path, DRAIN_SECONDS="1.5", SHUTDOWN_TIMEOUT="5")
    try:
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        ready = httpx.get(f"{base}/health/ready", timeout=2)
        live = httpx.get(f"{base}/health/live", timeout=2)
        served = httpx.post(f"{base}/api/v1/users/", json={"email": "late@example.com", "password": PASSWORD})
        exit_code = process.wait(timeout=10)
        stopped_after = time.monotonic() - signalled
    finally:
        stop_server(process)

    assert ready.status_code == 503
    assert ready.json()["detail"] == "The instance is shutting down"
    assert live.status_code == 200
    assert served.status_code == 201
    assert exit_code == 0
    assert 1.4 < stopped_after < 7, f"stopped {stopped_after:.1f}s after SIGTERM"
