"""The compose deployment on loopback, without a container engine.

Several ``quoin serve`` processes (one per loopback address, one API port and
one metrics port shared by all), behind HAProxy run with ``deploy/haproxy/haproxy.cfg`` unchanged, sharing a
PostgreSQL and a Redis. HAProxy finds the instances through DNS as in
compose; here a small DNS server (dnslib) stands in for Docker's, answering
the upstream name with the instances' addresses.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from dnslib import QTYPE, RR, A, DNSRecord
from dnslib.server import DNSLogger, DNSServer

from tests.support.helpers import PRODUCTION, clean_environment
from tests.support.postgres_server import free_port
from tests.support.settings import FAST_HASHING

__all__ = ["CLUSTER_LOGIN_LIMIT", "CLUSTER_SETTINGS", "HAPROXY_CONFIG", "Instance", "LoopbackCluster"]

CLUSTER_LOGIN_LIMIT = 5
# The instances' settings: production's, with limits a load test fits in but for logins, and a short drain.
CLUSTER_SETTINGS = {
    **PRODUCTION,
    **FAST_HASHING,
    "DB_POOL_SIZE": "5",
    "DB_MAX_OVERFLOW": "5",
    "DRAIN_SECONDS": "5",  # shorter than the default 10 s; still ≫ the balancer's 2 s to notice
    "SHUTDOWN_TIMEOUT": "10",
    "RATE_LIMIT_PER_MINUTE": "1000000",
    "LOGIN_RATE_LIMIT_PER_MINUTE": str(CLUSTER_LOGIN_LIMIT),
    "SIGNUP_RATE_LIMIT_PER_MINUTE": "1000000",  # the load test signs up continuously from one address
}

HAPROXY_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy" / "haproxy.cfg"
UPSTREAM_NAME = "quoin-app"


class _Replicas:
    """A dnslib resolver: the upstream name resolves to every instance address (A only)."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    def resolve(self, request: DNSRecord, _handler: object) -> DNSRecord:
        reply = request.reply()
        question = request.q
        if str(question.qname).rstrip(".") == UPSTREAM_NAME and question.qtype == QTYPE.A:
            for address in self.addresses:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=1))
        return reply


@dataclass
class Instance:
    """One ``quoin serve`` process on its own loopback address."""

    address: str
    port: int
    metrics_port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    exit_code: int | None = None

    @property
    def base(self) -> str:
        """Its own URL, bypassing the balancer."""
        return f"http://{self.address}:{self.port}"

    @property
    def metrics(self) -> str:
        """Its metrics listener's URL, which only a scraper on the inner network reaches."""
        return f"http://{self.address}:{self.metrics_port}/metrics"

    def events(self) -> list[dict[str, Any]]:
        """Its JSON log lines so far."""
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def access(self) -> list[dict[str, Any]]:
        """Its access-log events (probes are logged at debug level and are not among them)."""
        return [e for e in self.events() if e.get("event") == "request"]

    def event_time(self, name: str) -> datetime | None:
        """When it first logged ``name``."""
        found = next((e for e in self.events() if e.get("event") == name), None)
        return datetime.fromisoformat(found["timestamp"]) if found else None


@dataclass
class LoopbackCluster:
    """PostgreSQL and Redis are given; this starts the DNS, the instances and HAProxy."""

    workdir: Path
    database_url: str
    redis_url: str
    size: int = 3
    settings: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    lb: str = ""
    stats: str = ""
    _dns: DNSServer | None = None
    _haproxy: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start everything and wait until HAProxy sees every instance up."""
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).exists():
            raise RuntimeError("haproxy is not installed (Debian/Ubuntu: apt-get install haproxy)")
        port, metrics_port = free_port(), free_port()
        addresses = [f"127.0.0.{i + 2}" for i in range(self.size)]
        dns_port = free_port()
        quiet = DNSLogger("-request,-reply,-truncated,-error")
        self._dns = DNSServer(_Replicas(addresses), address="127.0.0.1", port=dns_port, logger=quiet)
        self._dns.start_thread()
        self.instances = [self._start_instance(address, port, metrics_port) for address in addresses]
        lb_port, stats_port = free_port(), free_port()
        self.lb, self.stats = f"http://127.0.0.1:{lb_port}", f"http://127.0.0.1:{stats_port}"
        lb_env = {
            "LB_BIND": f"127.0.0.1:{lb_port}",
            "LB_STATS_BIND": f"127.0.0.1:{stats_port}",
            "LB_DNS": f"127.0.0.1:{dns_port}",
            "LB_UPSTREAM": f"{UPSTREAM_NAME}:{port}",
        }
        with (self.workdir / "haproxy.log").open("wb") as log:
            self._haproxy = subprocess.Popen(
                [haproxy, "-db", "-f", str(HAPROXY_CONFIG)],
                env={**os.environ, **lb_env}, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.wait_until(self._all_up, 90, "every instance up behind the balancer")

    def _all_up(self) -> bool:
        for instance in self.instances:
            if instance.process.poll() is not None:
                raise RuntimeError(f"{instance.address} exited at start-up:\n{instance.log_path.read_text()}")
            try:
                if httpx.get(f"{instance.base}/health/ready", timeout=2).status_code != 200:
                    return False
            except httpx.TransportError:
                return False
        return sum(state == "UP" for state in self.server_states().values()) == self.size

    def _start_instance(self, address: str, port: int, metrics_port: int) -> Instance:
        env = {
            **clean_environment(),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "HOST": address,
            "PORT": str(port),
            "METRICS_PORT": str(metrics_port),
            "TRUSTED_PROXIES": "127.0.0.1",
            **self.settings,
        }
        log_path = self.workdir / f"instance-{address}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "quoin", "serve"],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return Instance(address, port, metrics_port, log_path, process)

    def server_states(self) -> dict[str, str]:
        """HAProxy's view: state of each server slot that has an address, by address."""
        try:
            response = httpx.get(f"{self.stats}/;csv", timeout=2)
        except httpx.TransportError:
            return {}
        rows = csv.DictReader(io.StringIO(response.text.lstrip("# ")))
        # HAProxy calls a new server UP before its first check: "UNCHECKED" until one ran.
        return {
            row["addr"].rsplit(":", 1)[0]: "UNCHECKED"
            if row["check_status"] in {"", "INI"}
            else row["status"].split(" ")[0]
            for row in rows
            if row["pxname"] == "quoin" and row["svname"] not in {"FRONTEND", "BACKEND"} and row.get("addr")
        }

    @staticmethod
    def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
        """Poll ``condition`` every 50 ms; fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"not {what} within {seconds} s")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop HAProxy, the instances still running, and the DNS server."""
        if self._haproxy is not None:
            self._haproxy.terminate()
            self._haproxy.wait(timeout=10)
        for instance in self.instances:
            if instance.process.poll() is None:
                instance.process.kill()
            instance.process.wait(timeout=30)
        if self._dns is not None:
            self._dns.stop()
            self._dns.server.server_close()  # stop() leaves the socket open
