"""Load with wrk: find or install it, run it, and read its ``--latency`` report."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.packages import ensure_program

__all__ = ["LUA", "WrkResult", "ensure_wrk", "parse_wrk", "start_wrk", "wait_wrk"]

LUA = Path(__file__).with_name("lua")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # responses with status >= 400 (wrk's "Non-2xx or 3xx responses")
    socket_errors: int
    report: str


def ensure_wrk() -> str:
    """Wrk's path; installs Debian's package when missing and running as root."""
    return ensure_program("wrk", lambda: shutil.which("wrk"))


def start_wrk(
    url: str,
    *,
    duration: int,
    connections: int,
    threads: int,
    script: str | None = None,
    script_args: Sequence[str] = (),
    headers: Sequence[str] = (),
    timeout: int = 30,
) -> subprocess.Popen[str]:
    """Start one wrk run in the background (``--latency``; by default a timeout long enough for Argon2 queues)."""
    command = [ensure_wrk(), f"-t{min(threads, connections)}", f"-c{connections}", f"-d{duration}s"]
    command += ["--latency", "--timeout", f"{timeout}s"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(LUA / script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # noqa: S603


def wait_wrk(process: subprocess.Popen[str]) -> WrkResult:
    """Wait for a run started with ``start_wrk`` and parse its report."""
    try:
        report, _ = process.communicate()
    except BaseException:
        process.kill()  # an interrupted harness leaves no load behind
        process.wait()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{report}")
    return parse_wrk(report)


def _millis(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse_wrk(report: str) -> WrkResult:
    """The numbers of a ``wrk --latency`` report."""
    done = re.search(r"(\d+) requests in " + _TIME, report)
    if done is None:
        raise RuntimeError(f"unexpected wrk output:\n{report}")
    latency = {
        int(match[1]): _millis(match[2], match[3]) for match in re.finditer(r"^\s+(50|99)%\s+" + _TIME, report, re.M)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    requests, seconds = int(done[1]), _millis(done[2], done[3]) / 1000
    return WrkResult(
        requests=requests,
        seconds=seconds,
        rps=requests / seconds if seconds else 0.0,
        p50_ms=latency.get(50, float("nan")),
        p99_ms=latency.get(99, float("nan")),
        errors=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(sockets[i]) for i in range(1, 5)) if sockets else 0,
        report=report,
    )
