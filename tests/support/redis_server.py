"""A throwaway Redis started from the local ``redis-server`` binary, for the tests that need one."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.postgres_server import free_port

__all__ = ["PrivateRedis", "find_redis_server"]


def find_redis_server() -> str | None:
    """``redis-server`` on PATH, else Debian's, else None."""
    return shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


class PrivateRedis:
    """``start()`` returns its URL; ``stop()`` ends it. Nothing is persisted; ``options`` go to ``redis-server``."""

    def __init__(self, options: Sequence[str] = ()) -> None:
        binary = find_redis_server()
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.binary = binary
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="quoin-test-redis-"))
        self.options = list(options)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        """Start (or restart) the server on its port and wait until it answers."""
        self._process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self.url
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        """Stop the server process."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def remove(self) -> None:
        """Stop and delete its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
