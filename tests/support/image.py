"""The built container image, run for real: one container's checks, then a fleet of three behind HAProxy.

``deploy/image/check`` builds the image and then runs this module::

    python -m tests.support.image ENGINE IMAGE [ENGINE RUN OPTION ...]

against a private PostgreSQL started from the local binaries. Containers use the
host network and listen on loopback only. Every check prints one line (PASS or
FAIL); the exit status is 1 if any failed.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.support.helpers import PASSWORD, PRODUCTION, TOKEN, USERS, signed_up_token
from tests.support.load import Load
from tests.support.loopback_cluster import Instance, LoopbackCluster
from tests.support.postgres_server import DatabaseFactory, PrivatePostgres, free_port
from tests.support.settings import FAST_HASHING, ROOMY_LIMITS

STOP_TIMEOUT = 40  # compose's stop_grace_period: longer than DRAIN_SECONDS + SHUTDOWN_TIMEOUT (10 + 20)
DEV_ONLY_MODULES = ("pytest", "mypy", "ruff", "schemathesis", "dnslib", "importlinter", "uv")
# Run inside the image: what production would not need, and what the app user may write.
CONTENTS_PROBE = """
import importlib.util, json, os, sys
paths = ["/app/tests", "/app/bench", "/app/.git", "/app/.env", "/root/.cache", "/app/.venv/bin/pip"]
writable = [p for p in ("/app/src/quoin", "/app/.venv/lib", "/app/migrations") if os.access(p, os.W_OK)]
print(json.dumps({
    "present": [p for p in paths if os.path.lexists(p)],
    "dev_modules": [m for m in sys.argv[1:] if importlib.util.find_spec(m)],
    "writable_by_app": writable,
    "uid": os.getuid(),
}))
"""
# Run inside a running container: the user of every process in its PID namespace but this probe.
PROCESSES_PROBE = """
import os, pathlib
for status in pathlib.Path("/proc").glob("[0-9]*/status"):
    if status.parent.name != str(os.getpid()):
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        print(fields["Uid"].split()[0], fields["Name"].strip())
"""


@dataclass
class Engine:
    """The container engine's command line, and the options every ``run`` needs on this machine."""

    program: str
    run_options: list[str]

    def __call__(self, *args: str, timeout: float = 120) -> str:
        """Run an engine command; its output, or an error carrying its message."""
        result = subprocess.run([self.program, *args], capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{self.program} {args[0]}: {(result.stderr or result.stdout).strip()[-400:]}")
        return result.stdout.strip()

    @property
    def podman(self) -> bool:
        """Whether this is Podman: it runs health checks on demand only and keeps them beside the OCI config."""
        return Path(self.program).name == "podman"

    def run_args(self, name: str, environment: dict[str, str], *extra: str) -> list[str]:
        """``run`` arguments for a container of the image on the host network."""
        env = [f"--env={key}={value}" for key, value in environment.items()]
        return ["run", f"--name={name}", "--network=host", *self.run_options, *env, *extra]

    def remove(self, name: str) -> None:
        """Remove a container at once, running or not."""
        with suppress(Exception):
            self("rm", "--force", *(["--time=0"] if self.podman else []), name)

    def inspect(self, what: str, template: str) -> str:
        """A Go template over ``inspect`` of a container or an image."""
        return self("inspect", f"--format={template}", what)


@dataclass
class Report:
    """One line per check; the verdict at the end."""

    failed: list[str] = field(default_factory=list)
    total: int = 0

    @contextmanager
    def check(self, name: str) -> Iterator[Callable[[bool, str], None]]:
        """``with report.check(name) as verdict: ... verdict(ok, detail)``; an exception is a FAIL."""
        said: list[bool] = []

        def verdict(ok: bool, detail: str) -> None:
            said.append(ok)
            self._line(name, ok, detail)

        try:
            yield verdict
        except Exception as error:  # a check that raises has failed: say why and go on
            self._line(name, False, f"{type(error).__name__}: {error}")
        else:
            if not said:
                self._line(name, False, "no verdict")

    def _line(self, name: str, ok: bool, detail: str) -> None:
        self.total += 1
        if not ok:
            self.failed.append(name)
        print(f"{'PASS' if ok else 'FAIL'}  {name} — {detail}", flush=True)


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Poll ``condition`` every 100 ms; the seconds it took, or TimeoutError."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            raise TimeoutError(f"not within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - start


def status(url: str, **kwargs: Any) -> int:
    """The status of a GET (599 when nothing answers)."""
    try:
        return httpx.get(url, timeout=5, **kwargs).status_code
    except httpx.TransportError:
        return 599


def app_environment(database_url: str, port: int, metrics_port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """What a production container needs, listening on ``host`` (loopback) only."""
    return {
        **PRODUCTION,
        **FAST_HASHING,
        **ROOMY_LIMITS,
        "DATABASE_URL": database_url,
        "HOST": host,
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "DB_STARTUP_TIMEOUT": "30",
    }


def migrate(engine: Engine, image: str, database_url: str, name: str) -> int:
    """``quoin database upgrade`` from the image; the number of revisions it applied."""
    args = engine.run_args(name, {**PRODUCTION, "DATABASE_URL": database_url}, "--rm")
    output = engine(*args, image, "quoin", "database", "upgrade", "--no-prompt", timeout=300)
    return output.count("Running upgrade")


def check_one_container(report: Report, engine: Engine, image: str, database_url: str) -> None:
    """Migrations, the API, the process user, a read-only root, the health check and a clean stop."""
    with report.check("image-config") as verdict:
        config = json.loads(engine.inspect(image, "{{json .Config}}"))
        # Podman keeps HEALTHCHECK beside the OCI configuration, Docker inside it.
        where = "{{json .HealthCheck}}" if engine.podman else "{{json .Config.Healthcheck}}"
        health = (json.loads(engine.inspect(image, where)) or {}).get("Test") or []
        ok = (
            config.get("User") == "10001:10001" and config.get("Entrypoint") == ["tini", "--"] and health[:1] == ["CMD"]
        )
        verdict(
            ok,
            f"user {config.get('User')}, entrypoint {config.get('Entrypoint')}, HEALTHCHECK {' '.join(health[:2])} …",
        )
    with report.check("image-contents") as verdict:
        found = json.loads(
            engine(
                "run",
                "--rm",
                "--network=none",
                *engine.run_options,
                "--entrypoint=python",
                image,
                "-c",
                CONTENTS_PROBE,
                *DEV_ONLY_MODULES,
            )
        )
        ok = found["uid"] == 10001 and not found["present"] + found["dev_modules"] + found["writable_by_app"]
        verdict(
            ok, f"no tests/bench/.git/caches/pip, no dev packages, code not writable by uid {found['uid']}: {found}"
        )
    with report.check("migrate") as verdict:
        revisions = migrate(engine, image, database_url, "quoin-image-migrate")
        verdict(revisions > 0, f"quoin database upgrade --no-prompt from the image: {revisions} revisions")

    port, metrics_port = free_port(), free_port()
    api, name = f"http://127.0.0.1:{port}", "quoin-image-app"
    env = app_environment(database_url, port, metrics_port)
    engine(*engine.run_args(name, env, "--detach", "--read-only", "--tmpfs=/tmp"), image)
    try:
        _check_running(report, engine, name, api, metrics_port)
    finally:
        engine.remove(name)


def _check_running(report: Report, engine: Engine, name: str, api: str, metrics_port: int) -> None:
    with report.check("health-live") as verdict:
        took = wait_for(lambda: status(f"{api}/health/live") == 200, 60)
        verdict(True, f"GET /health/live 200 after {took:.1f} s")
    with report.check("health-ready") as verdict:
        verdict(status(f"{api}/health/ready") == 200, "GET /health/ready 200")
    email = "image-check@example.com"
    with report.check("sign-up") as verdict:
        answer = httpx.post(f"{api}{USERS}", json={"email": email, "password": PASSWORD}, timeout=10)
        verdict(answer.status_code == 201, f"POST {USERS} {answer.status_code}")
    with report.check("login") as verdict:
        answer = httpx.post(f"{api}{TOKEN}", data={"username": email, "password": PASSWORD}, timeout=10)
        token = answer.json().get("access_token") if answer.status_code == 200 else None
        me = status(f"{api}{USERS}me", headers={"Authorization": f"Bearer {token}"})
        verdict(me == 200, f"POST {TOKEN} {answer.status_code}, GET {USERS}me with the token {me}")
    with report.check("docs") as verdict:
        verdict(status(f"{api}/docs") == 200, "GET /docs 200")
    with report.check("metrics-port") as verdict:
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
        on_api = status(f"{api}/metrics")
        ok = scraped.status_code == 200 and "quoin_http_requests_total" in scraped.text and on_api == 404
        verdict(ok, f"METRICS_PORT {metrics_port}: /metrics {scraped.status_code}; the API port: /metrics {on_api}")
    with report.check("unprivileged") as verdict:
        listing = engine("exec", name, "python", "-c", PROCESSES_PROBE).splitlines()
        processes = [line.split(" ", 1) for line in listing]
        ok = bool(processes) and {uid for uid, _ in processes} == {"10001"}
        verdict(ok, f"every process runs as uid 10001: {', '.join(f'{n} ({u})' for u, n in processes)}")
    with report.check("read-only-rootfs") as verdict:
        readonly = engine.inspect(name, "{{.HostConfig.ReadonlyRootfs}}")
        refused = subprocess.run(
            [engine.program, "exec", name, "touch", "/app/data/probe"], capture_output=True, text=True, check=False
        )
        ok = readonly == "true" and "Read-only file system" in refused.stderr
        verdict(ok, "--read-only --tmpfs /tmp: all of the above served; a write to /app/data is refused")
    with report.check("healthcheck") as verdict:
        verdict(*_health(engine, name))
    with report.check("stop-drains") as verdict:
        verdict(*_stop_under_watch(engine, name, api))


def _health(engine: Engine, name: str) -> tuple[bool, str]:
    """The image's HEALTHCHECK verdict: run on demand under Podman (no systemd timer here), awaited under Docker."""
    if engine.podman:
        engine("healthcheck", "run", name, timeout=30)
        how = "podman healthcheck run"
    else:
        wait_for(lambda: engine.inspect(name, "{{.State.Health.Status}}") != "starting", 60)
        how = "docker's own schedule"
    state = engine.inspect(name, "{{.State.Health.Status}}")
    return state == "healthy", f"{how}: {state}"


def _stop_under_watch(engine: Engine, name: str, api: str) -> tuple[bool, str]:
    """``stop`` while watching readiness and liveness: 503 and 200 during the drain, then exit 0 in time."""
    start = time.monotonic()
    stopping = threading.Thread(target=engine, args=("stop", f"--time={STOP_TIMEOUT}", name), kwargs={"timeout": 90})
    stopping.start()
    draining: tuple[float, int] | None = None
    while stopping.is_alive() and draining is None:
        if status(f"{api}/health/ready") == 503:
            draining = (time.monotonic() - start, status(f"{api}/health/live"))
        time.sleep(0.1)
    stopping.join()
    took = time.monotonic() - start
    code = engine.inspect(name, "{{.State.ExitCode}}")
    ok = draining is not None and draining[1] == 200 and code == "0" and took < STOP_TIMEOUT
    seen = f"ready 503 at {draining[0]:.1f} s with live {draining[1]}" if draining else "readiness never 503"
    return ok, f"stop --time {STOP_TIMEOUT}: {seen}; exit {code} after {took:.1f} s"


@dataclass
class ImageFleet(LoopbackCluster):
    """The loopback cluster of ``tests/test_multi_instance.py`` with containers of the image as its instances."""

    engine: Engine = field(default_factory=lambda: Engine("podman", []))
    image: str = ""

    def _start_instance(self, address: str, port: int, metrics_port: int) -> Instance:
        env = {
            **app_environment(self.database_url, port, metrics_port, host=address),
            "TRUSTED_PROXIES": "127.0.0.1",
            **self.settings,
        }
        log_path = self.workdir / f"instance-{address}.log"
        args = self.engine.run_args(self.container(address), env, "--read-only", "--tmpfs=/tmp")
        with log_path.open("ab") as log:
            process = subprocess.Popen([self.engine.program, *args, self.image], stdout=log, stderr=subprocess.STDOUT)
        return Instance(address, port, metrics_port, log_path, process)

    @staticmethod
    def container(address: str) -> str:
        """The container's name."""
        return f"quoin-fleet-{address.rsplit('.', 1)[1]}"

    def restart(self, instance: Instance) -> dict[str, float]:
        """``stop`` (drain, exit), ``start``, ready and back in the balancer: when each happened, from the stop."""
        name, start = self.container(instance.address), time.monotonic()
        self.engine("stop", f"--time={STOP_TIMEOUT}", name, timeout=90)
        instance.exit_code = instance.process.wait(30)
        stopped = time.monotonic() - start
        with instance.log_path.open("ab") as log:
            instance.process = subprocess.Popen(
                [self.engine.program, "start", "--attach", name], stdout=log, stderr=subprocess.STDOUT
            )
        started = time.monotonic() - start
        self.wait_until(lambda: status(f"{instance.base}/health/ready") == 200, 60, f"{name} ready")
        ready = time.monotonic() - start
        self.wait_until(lambda: self.server_states().get(instance.address) == "UP", 30, f"{name} UP in the balancer")
        return {"stopped (exit 0)" if instance.exit_code == 0 else f"stopped (exit {instance.exit_code})": stopped,
                "started": started, "ready": ready, "UP in the balancer": time.monotonic() - start}  # fmt: skip

    def stop(self) -> None:
        """Stop the balancer and the DNS server, and remove the containers."""
        super().stop()
        for instance in self.instances:
            self.engine.remove(self.container(instance.address))


def check_fleet(report: Report, engine: Engine, image: str, database_url: str) -> None:
    """Three containers behind deploy/haproxy/haproxy.cfg, restarted one at a time under steady load."""
    with tempfile.TemporaryDirectory(prefix="quoin-fleet-") as workdir:
        fleet = ImageFleet(
            workdir=Path(workdir), database_url=database_url, redis_url="", engine=engine, image=image,
            settings={"DRAIN_SECONDS": "5", "SHUTDOWN_TIMEOUT": "10", "DB_POOL_SIZE": "5", "DB_MAX_OVERFLOW": "5"},
        )  # fmt: skip
        try:
            with report.check("fleet-up") as verdict:
                fleet.start()
                verdict(True, f"3 containers on 127.0.0.2-4 behind HAProxy: {fleet.server_states()}")
            asyncio.run(_rolling_restart(report, fleet))
        finally:
            fleet.stop()


async def _rolling_restart(report: Report, fleet: ImageFleet) -> None:
    async with httpx.AsyncClient(base_url=fleet.lb, timeout=10) as client:
        token = await signed_up_token(client, "fleet@example.com")
    load = Load(fleet.lb, token)
    running = asyncio.create_task(load.run(readers=4, writers=2))
    began = time.monotonic()
    await asyncio.sleep(3)
    timeline: list[tuple[float, str]] = []
    served_after: dict[str, int] = {}
    for instance in fleet.instances:
        offset = time.monotonic() - began
        timeline.append((offset, f"{fleet.container(instance.address)}: stop"))
        events = await asyncio.to_thread(fleet.restart, instance)
        timeline += [(offset + at, f"{fleet.container(instance.address)}: {what}") for what, at in events.items()]
        served_after[instance.address] = len(instance.access())
    await asyncio.sleep(3)
    load.stop.set()
    await running

    print("rolling restart timeline (seconds after the load began):")
    for at, what in timeline:
        print(f"  {at:6.2f}  {what}")
    statuses = Counter((method, code) for _, method, code in load.outcomes)
    with report.check("fleet-rolling-restart") as verdict:
        bad = {k: v for k, v in statuses.items() if not 200 <= k[1] < 300}
        clean = all(i.exit_code == 0 for i in fleet.instances)
        verdict(not bad and clean and sum(statuses.values()) > 100, f"client outcomes {dict(sorted(statuses.items()))}")
    with report.check("fleet-serving-again") as verdict:
        more = {i.address: len(i.access()) - served_after[i.address] for i in fleet.instances}
        states = fleet.server_states()
        ok = all(count > 0 for count in more.values()) and list(states.values()) == ["UP"] * 3
        verdict(ok, f"requests served by each after its restart {more}; balancer {states}")


def main(engine: Engine, image: str) -> int:
    """Start a private PostgreSQL, run every check, stop it; 0 when every check passed."""
    postgres = PrivatePostgres()
    server = make_url(postgres.start())
    databases = DatabaseFactory(server)
    report = Report()
    try:
        single_url, fleet_url = (asyncio.run(databases.create(migrated=False)).render_as_string(hide_password=False)
                                 for _ in range(2))  # fmt: skip
        check_one_container(report, engine, image, single_url)
        with report.check("fleet-migrate") as verdict:
            verdict(
                migrate(engine, image, fleet_url, "quoin-image-migrate") > 0, "the fleet's database, from the image"
            )
        check_fleet(report, engine, image, fleet_url)
    finally:
        asyncio.run(databases.drop_all())
        postgres.stop()
    passed = report.total - len(report.failed)
    print(
        f"image: {passed}/{report.total} checks passed"
        + (f" (failed: {', '.join(report.failed)})" if report.failed else "")
    )
    return 0 if not report.failed else 1


if __name__ == "__main__":
    sys.exit(main(Engine(sys.argv[1], sys.argv[3:]), sys.argv[2]))
