"""The scenarios, and how one is measured: warm up, run wrk, read the server's CPU time, let it go idle."""

from __future__ import annotations

import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.database import SEED_PASSWORD, Seeded
from bench.load import WrkResult, start_wrk, wait_wrk
from bench.processes import ServerProcess, wait_until_idle
from bench.profile import Profile, read_profile, start_py_spy

__all__ = [
    "FLOOR_SCENARIOS",
    "HASHING_SCENARIOS",
    "MISSING_USER",
    "SCENARIOS",
    "Load",
    "Measurement",
    "Runner",
    "Scenario",
    "StormResult",
    "SweepPoint",
]

JSON = "Content-Type: application/json"
FORM = "Content-Type: application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Scenario:
    """One kind of request, with the wrk script that makes it."""

    key: str
    title: str
    path: str
    script: str | None
    script_args: Callable[[Seeded], list[str]]
    headers: tuple[str, ...] = ()
    authenticated: bool = True
    # The error status every answer is meant to have; other error answers are told apart by the app's metrics.
    expected_error: int | None = None


def _get_args(seeded: Seeded) -> list[str]:
    return [str(seeded.ids_file), "GET"]


def _missing_args(seeded: Seeded) -> list[str]:
    return [str(seeded.missing_ids_file), "GET"]


def _patch_args(seeded: Seeded) -> list[str]:
    return [str(seeded.ids_file), "PATCH"]


def _signup_args(_seeded: Seeded) -> list[str]:
    # A fresh tag per run: every sign-up email is new, across warm-ups and rounds.
    return [uuid.uuid4().hex[:8], SEED_PASSWORD]


SCENARIOS = {
    "get": Scenario("get", "GET /api/v1/users/{id}", "/api/v1/users/", "by_id.lua", _get_args),
    "list": Scenario("list", "GET /api/v1/users/?limit=20", "/api/v1/users/?limit=20", None, lambda _: []),
    "patch": Scenario("patch", "PATCH /api/v1/users/{id}", "/api/v1/users/", "by_id.lua", _patch_args, (JSON,)),
    "signup": Scenario(
        "signup", "POST /api/v1/users/ (sign-up)", "/api/v1/users/", "signup.lua", _signup_args, (JSON,), False
    ),
    "login": Scenario(
        "login",
        "POST /api/v1/auth/token (login)",
        "/api/v1/auth/token",
        "login.lua",
        lambda seeded: [str(seeded.emails_file), SEED_PASSWORD],
        (FORM,),
        False,
    ),
}
FLOOR_SCENARIOS = ("get", "list", "patch")
HASHING_SCENARIOS = ("signup", "login")
# The ladder's last step: ids no user has, each answered with a 404 problem document.
MISSING_USER = Scenario(
    "missing", "GET /api/v1/users/{id} (missing)", "/api/v1/users/", "by_id.lua", _missing_args, expected_error=404
)


@dataclass(frozen=True)
class Load:
    """How hard and how long wrk drives a server."""

    duration: int
    warmup: int
    connections: int
    threads: int
    hashing_connections: int


@dataclass(frozen=True)
class Measurement:
    """One measured wrk run against one server."""

    server: str
    wrk: WrkResult
    cpu_ms_per_request: float
    # Of a scenario meant to answer an error: the answers with any other error status (wrk counts them all).
    unexpected_errors: int | None = None

    @property
    def error_answers(self) -> int:
        """Answers with an error status (>= 400) the scenario did not mean to get."""
        return self.wrk.errors if self.unexpected_errors is None else self.unexpected_errors

    @property
    def errors(self) -> int:
        """Those answers plus socket errors and time-outs."""
        return self.error_answers + self.wrk.socket_errors

    @property
    def failed(self) -> bool:
        """The server answered errors it should not have, dropped connections, or answered nothing."""
        return self.errors > 0 or self.wrk.requests == 0


def median(measurements: Sequence[Measurement], value: Callable[[Measurement], float]) -> float:
    """The median of ``value`` over ``measurements``."""
    return statistics.median(value(m) for m in measurements)


SWEEP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class SweepPoint:
    """One scenario at one concurrency, on the app and on the floor."""

    key: str
    connections: int
    app: Measurement
    floor: Measurement

    @property
    def p99_ratio(self) -> float:
        """App p99 over floor p99."""
        return self.app.wrk.p99_ms / self.floor.wrk.p99_ms if self.floor.wrk.p99_ms else float("inf")


@dataclass(frozen=True)
class StormResult:
    """GET /users/{id} alone and while sign-ups hash passwords next to it."""

    alone: Measurement
    during: Measurement
    signups: WrkResult


class Runner:
    """Runs scenarios against the app and the floor."""

    def __init__(
        self, app: ServerProcess, floor: ServerProcess, seeded: Seeded, load: Load, admin: tuple[str, str]
    ) -> None:
        self.app = app
        self.floor = floor
        self.seeded = seeded
        self.load = load
        self.admin = admin

    def token(self) -> str:
        """A bearer token for the superuser, from the app's login endpoint."""
        email, password = self.admin
        response = httpx.post(
            f"{self.app.base_url}/api/v1/auth/token", data={"username": email, "password": password}, timeout=30
        )
        if response.status_code != 200:
            raise RuntimeError(f"the superuser cannot log in: {response.status_code} {response.text:.500}")
        return str(response.json()["access_token"])

    def _start(
        self, server: ServerProcess, scenario: Scenario, seconds: int, connections: int, timeout: int = 30
    ) -> subprocess.Popen[str]:
        headers = list(scenario.headers)
        if scenario.authenticated:
            # A fresh token for every wrk run: none outlives ACCESS_TOKEN_TTL.
            headers.append(f"Authorization: Bearer {self.token()}")
        return start_wrk(
            server.base_url + scenario.path,
            duration=seconds,
            connections=connections,
            threads=self.load.threads,
            script=scenario.script,
            script_args=scenario.script_args(self.seeded),
            headers=headers,
            timeout=timeout,
        )

    def measure(
        self, server: ServerProcess, scenario: Scenario, connections: int | None = None, timeout: int = 30
    ) -> Measurement:
        """Warm up, then one measured run; waits for the server to finish queued work before and after.

        ``connections`` replaces the load's own count; a request unanswered after ``timeout`` seconds counts
        as a socket error. A scenario meant to answer an error counts the app's other error answers, warm-up
        included, from its metrics.
        """
        answered = server.error_answers() if scenario.expected_error else None
        run = self._warm_then_start(server, scenario, connections, timeout)
        before = server.cpu_seconds()
        result = wait_wrk(run)
        measured = Measurement(server.name, result, self._cpu_per_request(server, before, result))
        if answered is None:
            return measured
        now = server.error_answers()
        unexpected = sum(count - answered[status] for status, count in now.items() if status != scenario.expected_error)
        return replace(measured, unexpected_errors=unexpected)

    def profile(self, scenario: Scenario, stacks: Path) -> Profile:
        """One more app run of ``scenario`` under py-spy, its stacks to ``stacks``; not measured (sampling slows it)."""
        run = self._warm_then_start(self.app, scenario)
        started = [run]
        try:
            # A second shorter than the load, so that every sample is taken under it.
            spy = start_py_spy(self.app.process.pid, max(self.load.duration - 1, 1), stacks)
            started.append(spy)
            output, _ = spy.communicate()
            result = wait_wrk(run)
        except BaseException:
            for process in started:  # neither may outlive the harness
                process.kill()
                process.wait()
            raise
        wait_until_idle(self.app)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed ({spy.returncode}):\n{output.strip()}")
        return read_profile(stacks, result.errors + result.socket_errors)

    def _warm_then_start(
        self, server: ServerProcess, scenario: Scenario, connections: int | None = None, timeout: int = 30
    ) -> subprocess.Popen[str]:
        """The warm-up run, a wait for the server to go idle, then the run that counts, started."""
        if connections is None:
            hashing = scenario.key in HASHING_SCENARIOS
            connections = self.load.hashing_connections if hashing else self.load.connections
        wait_wrk(self._start(server, scenario, self.load.warmup, connections, timeout))
        wait_until_idle(server)
        return self._start(server, scenario, self.load.duration, connections, timeout)

    @staticmethod
    def _cpu_per_request(server: ServerProcess, before: float, result: WrkResult) -> float:
        cpu = server.cpu_seconds() - before
        wait_until_idle(server)
        return 1000 * cpu / max(result.requests, 1)

    def compare(self, scenario: Scenario, rounds: int) -> list[Measurement]:
        """App, floor, app, floor…: interleaved so drift on the machine hits both alike."""
        return [self.measure(server, scenario) for _ in range(rounds) for server in (self.app, self.floor)]

    def sweep(self, scenario: Scenario, connections: int) -> SweepPoint:
        """App then floor at ``connections``; a request unanswered within 10 s is a failure (a client time-out)."""
        app, floor = (self.measure(s, scenario, connections, SWEEP_TIMEOUT_SECONDS) for s in (self.app, self.floor))
        return SweepPoint(scenario.key, connections, app, floor)

    def alone(self, scenario: Scenario) -> Measurement:
        """The app only (scenarios with no floor)."""
        return self.measure(self.app, scenario)

    def storm(self) -> StormResult:
        """GET /users/{id} p99 alone, then again while a sign-up storm runs in a second wrk."""
        get, signup = SCENARIOS["get"], SCENARIOS["signup"]
        alone = self.measure(self.app, get)
        load = self.load
        storm = self._start(self.app, signup, load.warmup + load.duration + 2, load.hashing_connections)
        try:
            time.sleep(load.warmup)  # the storm reaches its steady state first
            run = self._start(self.app, get, load.duration, load.connections)
            before = self.app.cpu_seconds()
            result = wait_wrk(run)
            cpu = self.app.cpu_seconds() - before  # the GET run's window only, not the storm's tail
            signups = wait_wrk(storm)
        except BaseException:
            storm.kill()
            storm.wait()
            raise
        wait_until_idle(self.app)
        during = Measurement(self.app.name, result, 1000 * cpu / max(result.requests, 1))
        return StormResult(alone=alone, during=during, signups=signups)
