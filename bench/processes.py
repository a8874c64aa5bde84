"""Server processes under test: spawn, wait until live, read their CPU time and memory, stop."""

from __future__ import annotations

import compileall
import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tests.support.postgres_server import free_port
from tests.support.processes import descendants, stat_fields

__all__ = ["ServerProcess", "compile_bytecode", "spawn_app", "spawn_floor", "spawn_ladder", "wait_until_idle"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# In /proc/PID/stat after the command name: utime, stime, cutime, cstime.
_CPU_TIMES = slice(11, 15)
_ROOT = Path(__file__).resolve().parents[1]
_INFO = re.compile(r'"level": ?"(info|debug)"')
_ANSWERS = "quoin_http_requests_total"  # the app's responses by method, route and status


@dataclass
class ServerProcess:
    """One running server: its process, address and log file."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    metrics_port: int  # METRICS_PORT: every server gets one, the app serves its metrics there
    started_at: float = field(default_factory=time.perf_counter)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def wait_live(self, timeout: float = 30.0) -> float:
        """Block until ``GET /health/live`` answers 200; seconds since spawn."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}:\n{self.tail()}")
            if _answers_200(self.port, "/health/live"):
                return time.perf_counter() - self.started_at
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} was not live within {timeout:.0f} s; see {self.log}:\n{self.tail()}")

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far by the server and every process it started (Argon2 hashing)."""
        # utime, stime, cutime, cstime: cutime and cstime hold the children it has already waited for.
        ticks = 0
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            with contextlib.suppress(FileNotFoundError):  # a child that ended meanwhile
                ticks += sum(map(int, stat_fields(pid)[_CPU_TIMES]))
        return ticks / _CLOCK_TICKS

    def memory_mib(self) -> tuple[float, float]:
        """The server's resident memory now and at its peak (VmRSS, VmHWM), in MiB."""
        return _memory_mib(self.process.pid)

    def children_memory_mib(self) -> tuple[int, float, float]:
        """How many processes the server started, and their summed VmRSS and VmHWM in MiB."""
        memories = []
        for pid in descendants(self.process.pid):
            with contextlib.suppress(FileNotFoundError):
                memories.append(_memory_mib(pid))
        return len(memories), sum(rss for rss, _ in memories), sum(peak for _, peak in memories)

    def error_answers(self) -> Counter[int]:
        """How many answers with each status >= 400 the app has given so far, from its metrics."""
        scraped = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10)
        scraped.raise_for_status()
        answers: Counter[int] = Counter()
        for family in text_string_to_metric_families(scraped.text):
            for sample in family.samples:
                if sample.name == _ANSWERS and int(sample.labels["status"]) >= 400:
                    answers[int(sample.labels["status"])] += int(sample.value)
        return answers

    def logged(self, event: str) -> bool:
        """Whether the server's log holds a line with this ``event``."""
        needle = f'"event": "{event}"'
        with self.log.open(errors="replace") as lines:
            return any(needle in line for line in lines)

    def tail(self, lines: int = 20) -> str:
        """The end of the server's log, info lines (one per request) left out if anything else is there."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        kept = [line for line in text.splitlines() if not _INFO.search(line)] or text.splitlines()
        return "\n".join(kept[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _memory_mib(pid: int) -> tuple[float, float]:
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def _answers_200(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _spawn(name: str, args: list[str], env: dict[str, str], cwd: Path, log: Path) -> ServerProcess:
    """``args`` run by our interpreter on a free ``PORT``, with a free ``METRICS_PORT`` (the app's) of its own."""
    port, metrics_port = free_port(), free_port()
    env = {**env, "PORT": str(port), "METRICS_PORT": str(metrics_port)}
    started = time.perf_counter()
    with log.open("ab") as output:
        # Own session: a Ctrl-C reaches the harness only, which then stops the servers in order.
        process = subprocess.Popen(  # noqa: S603  # our own interpreter and modules
            [sys.executable, *args], env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    return ServerProcess(name=name, process=process, port=port, log=log, metrics_port=metrics_port, started_at=started)


def compile_bytecode() -> None:
    """Compile the app's and the migrations' bytecode beforehand, as the container image does (Containerfile).

    Dependencies are compiled once per lock file by ``./run``; the project's
    own sources are not, and with ``PYTHONDONTWRITEBYTECODE`` set (this
    machine sets it) every start would compile them again.
    """
    for folder in ("src", "migrations"):
        compileall.compile_dir(_ROOT / folder, quiet=1)


def spawn_app(env: dict[str, str], cwd: Path, log: Path) -> ServerProcess:
    """``python -m quoin serve`` on free ports, with ``env`` as its whole environment."""
    return _spawn("app", ["-m", "quoin", "serve"], env, cwd, log)


def spawn_floor(env: dict[str, str], cwd: Path, log: Path) -> ServerProcess:
    """The raw floor (``bench/floor.py``) on a free port, with the app's database and keys."""
    floor = Path(__file__).with_name("floor.py")
    return _spawn("floor", [str(floor)], env, cwd, log)


def spawn_ladder(step: str, env: dict[str, str], cwd: Path, log: Path) -> ServerProcess:
    """One step of the layer ladder (``bench/ladder.py``) on free ports, with the app's settings."""
    ladder = Path(__file__).with_name("ladder.py")
    return _spawn(step, [str(ladder)], {**env, "LADDER_STEP": step}, cwd, log)


def wait_until_idle(server: ServerProcess, *, below: float = 0.05, timeout: float = 30.0) -> float:
    """Wait until the server uses under ``below`` of a core (work queued by a finished run is done); seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        before = server.cpu_seconds()
        time.sleep(0.25)
        if (server.cpu_seconds() - before) / 0.25 < below:
            break
    return time.perf_counter() - began
