"""What a real ``quoin serve`` writes to stdout: one format for every logger, clients through trusted proxies only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.helpers import PASSWORD
from tests.support.serve import start_server, stop_server

# Starts servers or processes of its own: left out of the fast tier (-m "not process").
pytestmark = pytest.mark.process


def run_and_collect_logs(cwd: Path, requests: list[dict[str, Any]], **env: str) -> list[dict[str, Any]]:
    """Start a server, send ``requests``, stop it, and parse every line it printed."""
    cwd.mkdir(parents=True, exist_ok=True)
    process, base = start_server(cwd, LOG_FORMAT="json", **env)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for request in requests:
                client.request(**request)
        process.terminate()
        output = process.stdout.read() if process.stdout else ""
    finally:
        stop_server(process)
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_uvicorn_sqlalchemy_alembic_and_access_lines_share_one_json_format(tmp_path: Path) -> None:
    lines = run_and_collect_logs(
        tmp_path,
        [{"method": "POST", "url": "/api/v1/users/", "json": {"email": "logs@example.com", "password": PASSWORD}}],
        DB_ECHO="true",
    )

    loggers = {line.get("logger") for line in lines}
    assert {"alembic.runtime.migration", "uvicorn.error", "sqlalchemy.engine.Engine", "quoin.access"} <= loggers
    assert all({"event", "level", "timestamp"} <= line.keys() for line in lines)
    assert all("color_message" not in line for line in lines)
    assert not any(PASSWORD in json.dumps(line) for line in lines)


def test_the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(tmp_path: Path) -> None:
    spoofed = {"method": "GET", "url": "/api/v1/users/me", "headers": {"X-Forwarded-For": "203.0.113.9"}}

    trusted = run_and_collect_logs(tmp_path / "trusted", [spoofed], TRUSTED_PROXIES="127.0.0.1")
    untrusted = run_and_collect_logs(tmp_path / "untrusted", [spoofed], TRUSTED_PROXIES="10.9.9.9")

    def client_of_request(lines: list[dict[str, Any]]) -> str:
        [access] = [line for line in lines if line.get("event") == "request" and line["route"] == "/api/v1/users/me"]
        return str(access["client"])

    assert client_of_request(trusted) == "203.0.113.9"
    assert client_of_request(untrusted) == "127.0.0.1"


def test_with_several_workers_the_supervisor_logs_in_the_same_format(tmp_path: Path) -> None:
    lines = run_and_collect_logs(tmp_path, [{"method": "GET", "url": "/health/live"}], WORKERS="2")

    assert [line["logger"] for line in lines if line["event"].startswith("Started parent process")] == ["uvicorn.error"]
