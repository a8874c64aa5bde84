"""What a run measured, and how it compares with the targets."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.profile import Profile
from bench.scenarios import SCENARIOS, Measurement, StormResult, SweepPoint, median

__all__ = ["Check", "Results"]

# Throughput the app must reach, as a fraction of the floor's.
FLOOR_TARGETS = {"get": 0.25, "list": 0.40, "patch": 0.25}
READ_SCENARIOS = ("get", "list")
READ_P99_MAX = 3.0  # app p99 / floor p99
HASHING_TARGET = 0.8  # sign-ups or logins per second / Argon2 hashes per second
STORM_P99_MAX = 2.0  # GET p99 during a sign-up storm / GET p99 alone
RSS_MAX_MIB = 100.0
HASHING_RSS_MAX_MIB = 40.0  # the hashing processes together
COLD_START_MAX_S = 1.0


@dataclass(frozen=True)
class Check:
    """One target: what was measured against what is wanted."""

    name: str
    measured: str
    target: str
    met: bool


@dataclass
class Results:
    """Everything one run measured; sections left empty were not selected."""

    compared: dict[str, list[Measurement]] = field(default_factory=dict)
    hashing: dict[str, Measurement] = field(default_factory=dict)
    ceiling: float | None = None
    storms: list[StormResult] = field(default_factory=list)  # one per round
    cold_starts: list[float] = field(default_factory=list)
    app_memory: tuple[float, float] | None = None  # VmRSS, VmHWM in MiB
    app_children_memory: tuple[int, float, float] | None = None  # processes the app started; summed VmRSS, VmHWM
    floor_memory: tuple[float, float] | None = None
    parity: list[str] = field(default_factory=list)  # where the floor answers differently from the app
    ladder: list[tuple[str, Measurement]] = field(default_factory=list)  # (what the step adds, its GET run)
    profiles: dict[str, Profile] = field(default_factory=dict)  # --profile: one py-spy run per floor scenario
    sweep: list[SweepPoint] = field(default_factory=list)  # get, list and patch at each --sweep-connections count
    store_outages: list[str] = field(default_factory=list)  # servers whose rate limits lost Redis during the run

    def of(self, key: str, server: str) -> list[Measurement]:
        """The measurements of one scenario on one server."""
        return [m for m in self.compared.get(key, []) if m.server == server]

    def ratio(self, key: str) -> float:
        """App req/s over floor req/s (medians over rounds)."""
        return _median_ratio(self.of(key, "app"), self.of(key, "floor"), _rps, if_zero=0.0)

    def p99_ratio(self, key: str) -> float:
        """App p99 over floor p99 (medians over rounds)."""
        return _median_ratio(self.of(key, "app"), self.of(key, "floor"), _p99, if_zero=float("inf"))

    def storm_ratio(self) -> float:
        """GET p99 during the storm over GET p99 alone (medians over rounds)."""
        during, alone = [s.during for s in self.storms], [s.alone for s in self.storms]
        return _median_ratio(during, alone, _p99, if_zero=float("inf"))

    def failures(self) -> list[str]:
        """Runs in which a server answered errors or dropped connections, or measured no rate limiting."""
        runs = [(key, m) for key, ms in self.compared.items() for m in ms]
        runs += list(self.hashing.items())
        for storm in self.storms:
            runs += [("storm (GET alone)", storm.alone), ("storm (GET during)", storm.during)]
        runs += [(f"ladder: {step}", m) for step, m in self.ladder]
        runs += [(f"sweep {p.key} at {p.connections} connections", m) for p in self.sweep for m in (p.app, p.floor)]
        found = [
            f"{key} on {m.server}: {m.wrk.requests} requests, {m.error_answers} error responses, "
            f"{m.wrk.socket_errors} socket errors"
            for key, m in runs
            if m.failed
        ]
        found += [
            f"storm sign-ups: {storm.signups.errors} error responses, {storm.signups.socket_errors} socket errors"
            for storm in self.storms
            if storm.signups.errors or storm.signups.socket_errors
        ]
        found += [
            f"{server}: Redis stopped answering, and the rate limits let requests through uncounted (see its log)"
            for server in self.store_outages
        ]
        return found

    def checks(self) -> list[Check]:
        """Every target whose scenario ran."""
        checks = [
            _at_least(f"{SCENARIOS[k].title}: req/s vs floor", self.ratio(k), t)
            for k, t in FLOOR_TARGETS.items()
            if k in self.compared
        ]
        checks += [
            _at_most(f"{SCENARIOS[k].title}: p99 vs floor", self.p99_ratio(k), READ_P99_MAX)
            for k in READ_SCENARIOS
            if k in self.compared
        ]
        if self.ceiling:
            checks += [
                _at_least(f"{SCENARIOS[k].title}: share of Argon2 ceiling", m.wrk.rps / self.ceiling, HASHING_TARGET)
                for k, m in self.hashing.items()
            ]
        if self.storms:
            checks.append(
                _at_most("GET /api/v1/users/{id}: p99 during sign-up storm vs alone", self.storm_ratio(), STORM_P99_MAX)
            )
        if self.sweep:
            worst = max(self.sweep, key=lambda point: point.p99_ratio)
            checks.append(
                _at_most(
                    f"sweep: worst p99 vs floor ({worst.key}, {worst.connections} connections)",
                    worst.p99_ratio,
                    READ_P99_MAX,
                )
            )
            failed = sum(point.app.errors for point in self.sweep)
            checks.append(Check("sweep: app errors and time-outs (10 s)", str(failed), "0", failed == 0))
        if self.app_memory:
            rss = self.app_memory[0]
            checks.append(
                Check(
                    "app RSS after load (1 worker)", f"{rss:.0f} MiB", f"<= {RSS_MAX_MIB:.0f} MiB", rss <= RSS_MAX_MIB
                )
            )
        if self.app_children_memory:
            count, rss, _ = self.app_children_memory
            checks.append(
                Check(
                    f"hashing processes' RSS after load ({count}, summed)",
                    f"{rss:.0f} MiB",
                    f"<= {HASHING_RSS_MAX_MIB:.0f} MiB",
                    rss <= HASHING_RSS_MAX_MIB,
                )
            )
        if self.cold_starts:
            cold = statistics.median(self.cold_starts)
            checks.append(
                Check("cold start (median)", f"{cold:.2f} s", f"<= {COLD_START_MAX_S:.0f} s", cold <= COLD_START_MAX_S)
            )
        return checks


def _at_least(name: str, ratio: float, target: float) -> Check:
    return Check(name, f"{ratio:.2f}x", f">= {target}x", ratio >= target)


def _at_most(name: str, ratio: float, target: float) -> Check:
    return Check(name, f"{ratio:.2f}x", f"<= {target}x", ratio <= target)


def _rps(m: Measurement) -> float:
    return m.wrk.rps


def _p99(m: Measurement) -> float:
    return m.wrk.p99_ms


def _median_ratio(
    tops: Sequence[Measurement],
    bottoms: Sequence[Measurement],
    value: Callable[[Measurement], float],
    *,
    if_zero: float,
) -> float:
    """The median of ``value`` over ``tops`` divided by its median over ``bottoms`` (``if_zero`` when that is 0)."""
    bottom = median(bottoms, value)
    return median(tops, value) / bottom if bottom else if_zero
