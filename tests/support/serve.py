"""Real ``quoin serve`` processes for the process-level tests: started, awaited, stopped."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy.engine import URL

from tests.support.helpers import PASSWORD, PRODUCTION, clean_environment
from tests.support.postgres_server import free_port

__all__ = ["ServeProcess", "create_superuser", "serving", "start_server", "stop_server"]


def start_server(cwd: Path, command: Sequence[str] = (), **env: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m quoin serve`` (or ``command``) in ``cwd``; once ready, the process and its base URL.

    Database variables of the caller's environment are dropped; ``env`` adds the
    test's own. The drain period is off unless ``env`` sets ``DRAIN_SECONDS``.
    """
    port = free_port()
    clean = clean_environment()
    process = subprocess.Popen(
        list(command) or [sys.executable, "-m", "quoin", "serve"],
        cwd=cwd,
        env={**clean, "DRAIN_SECONDS": "0", **env, "PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server was not ready within 30 s"
        time.sleep(0.1)


def stop_server(process: subprocess.Popen[str]) -> int:
    """SIGTERM, wait, and return the exit code."""
    if process.poll() is None:
        process.terminate()
    code = process.wait(timeout=15)
    if process.stdout:
        process.stdout.close()
    return code


@contextmanager
def serving(cwd: Path, **env: str) -> Iterator[str]:
    """A ready ``quoin serve`` for the duration of the block; yields its base URL."""
    process, base = start_server(cwd, **env)
    try:
        yield base
    finally:
        stop_server(process)


def create_superuser(cwd: Path, email: str, **env: str) -> str:
    """Run the README's superuser command; returns its output line."""
    clean = clean_environment()
    result = subprocess.run(
        [sys.executable, "-m", "quoin", "users", "create-superuser", "--email", email],
        cwd=cwd, env={**clean, **env, "QUOIN_SUPERUSER_PASSWORD": PASSWORD}, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


class ServeProcess:
    """``quoin serve`` in production, its JSON log lines collected as they come."""

    def __init__(self, cwd: Path, database_url: URL | str, **env: str) -> None:
        url = database_url if isinstance(database_url, str) else database_url.render_as_string(hide_password=False)
        self.base = f"http://127.0.0.1:{free_port()}"
        clean = clean_environment()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "quoin", "serve"],
            cwd=cwd,
            env={**clean, **PRODUCTION, "DATABASE_URL": url, "PORT": self.base.rsplit(":", 1)[1], **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a process group of its own, which a test may signal as Ctrl-C does
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        self.lines.extend(self.process.stdout)

    def events(self, name: str) -> list[dict[str, object]]:
        """The JSON log events called ``name`` so far."""
        events = (json.loads(line) for line in list(self.lines) if line.startswith("{"))
        return [event for event in events if event["event"] == name]

    def wait_for_event(self, name: str, seconds: float = 20) -> dict[str, object]:
        """The first ``name`` event, waiting for it."""
        deadline = time.monotonic() + seconds
        while not (found := self.events(name)):
            assert self.process.poll() is None or self._reader.is_alive(), "".join(self.lines)
            assert time.monotonic() < deadline, f"no {name!r} within {seconds} s:\n{''.join(self.lines)}"
            time.sleep(0.05)
        return found[0]

    def stop(self) -> int:
        """SIGTERM (if still running) and the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        if self.process.stdout:
            self.process.stdout.close()
        return code
