"""The results as tables: aligned text for the terminal, Markdown for docs, with the machine they came from."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tests.support.postgres_server import find_binary
from tests.support.redis_server import find_redis_server

from bench.results import Results
from bench.scenarios import SCENARIOS, Measurement, median

__all__ = ["machine", "render"]

Table = tuple[list[str], list[list[str]]]
_PROFILE_SHOWN = 0.01  # packages with a smaller share of every profile are summed into one row
_PACKAGES = (
    "litestar",
    "advanced-alchemy",
    "sqlalchemy",
    "uvicorn",
    "uvloop",
    "httptools",
    "asyncpg",
    "msgspec",
    "argon2-cffi",
)


def _output(command: list[str]) -> str:
    """What a command printed, stripped; empty when it cannot run."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    except OSError:
        return ""
    return (result.stdout or result.stderr).strip()


def _first_line(command: list[str]) -> str:
    return (_output(command).splitlines() or ["unknown"])[0]


def _proc_value(path: str, key: str) -> str:
    for line in Path(path).read_text().splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def machine(load: tuple[float, float, float]) -> list[tuple[str, str]]:
    """What the numbers were measured on (``load``: the load average before the run)."""
    memory_kib = int(_proc_value("/proc/meminfo", "MemTotal").split()[0])
    commit = _first_line(["git", "rev-parse", "--short", "HEAD"])
    dirty = " (with uncommitted changes)" if _output(["git", "status", "--porcelain"]) else ""
    return [
        ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("commit", commit + dirty),
        ("CPU", _proc_value("/proc/cpuinfo", "model name")),
        ("cores", str(os.cpu_count())),
        ("RAM", f"{memory_kib / 1024 / 1024:.1f} GiB"),
        ("kernel", platform.release()),
        ("load average before the run", ", ".join(f"{value:.2f}" for value in load)),
        ("Python", platform.python_version()),
        ("PostgreSQL", _first_line([find_binary("postgres"), "--version"])),
        ("wrk", _first_line(["wrk", "-v"]).split(" [")[0]),
        ("Redis", _first_line([find_redis_server() or "redis-server", "--version"]).split(" sha=")[0]),
        *((package, _version(package)) for package in _PACKAGES),
    ]


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _compared(results: Results) -> Table:
    header = ["scenario", "app req/s", "floor req/s", "app/floor", "app p50 ms", "app p99 ms", "floor p99 ms"]
    header += ["p99 app/floor", "app CPU ms/req", "floor CPU ms/req", "app errors"]
    rows = []
    for key, runs in results.compared.items():
        app, floor = results.of(key, "app"), results.of(key, "floor")
        rows.append(
            [
                SCENARIOS[key].title,
                f"{median(app, lambda m: m.wrk.rps):.0f}",
                f"{median(floor, lambda m: m.wrk.rps):.0f}",
                f"{results.ratio(key):.2f}",
                _ms(median(app, lambda m: m.wrk.p50_ms)),
                _ms(median(app, lambda m: m.wrk.p99_ms)),
                _ms(median(floor, lambda m: m.wrk.p99_ms)),
                f"{results.p99_ratio(key):.2f}",
                f"{median(app, lambda m: m.cpu_ms_per_request):.2f}",
                f"{median(floor, lambda m: m.cpu_ms_per_request):.2f}",
                str(sum(m.errors for m in runs if m.server == "app")),
            ]
        )
    return header, rows


def _sweep(results: Results) -> Table:
    header = ["scenario", "connections", "app req/s", "app p99 ms", "app errors", "floor req/s", "floor p99 ms"]
    header += ["floor errors", "p99 app/floor"]
    rows = [
        [
            SCENARIOS[point.key].title,
            str(point.connections),
            f"{point.app.wrk.rps:.0f}",
            _ms(point.app.wrk.p99_ms),
            str(point.app.errors),
            f"{point.floor.wrk.rps:.0f}",
            _ms(point.floor.wrk.p99_ms),
            str(point.floor.errors),
            f"{point.p99_ratio:.2f}",
        ]
        for point in results.sweep
    ]
    return header, rows


def _hashing(results: Results) -> Table:
    header = ["scenario", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "errors", "Argon2 ceiling/s", "share of ceiling"]
    rows = []
    for key, m in results.hashing.items():
        share = f"{m.wrk.rps / results.ceiling:.2f}" if results.ceiling else "n/a"
        ceiling = f"{results.ceiling:.1f}" if results.ceiling else "n/a"
        rows.append(
            [
                SCENARIOS[key].title,
                f"{m.wrk.rps:.1f}",
                _ms(m.wrk.p50_ms),
                _ms(m.wrk.p99_ms),
                f"{m.cpu_ms_per_request:.0f}",
                str(m.errors),
                ceiling,
                share,
            ]
        )
    return header, rows


def _storm(results: Results) -> Table:
    # No CPU column: the app's CPU time then includes the sign-ups' hashing.
    header = ["GET /api/v1/users/{id}", "req/s", "p50 ms", "p99 ms", "errors", "sign-ups/s"]
    storms = results.storms
    if not storms:
        return header, []
    signups = f"{statistics.median(s.signups.rps for s in storms):.1f}"
    runs = (("alone", [s.alone for s in storms], "-"), ("during a sign-up storm", [s.during for s in storms], signups))
    rows = [
        [
            label,
            f"{median(ms, lambda m: m.wrk.rps):.0f}",
            _ms(median(ms, lambda m: m.wrk.p50_ms)),
            _ms(median(ms, lambda m: m.wrk.p99_ms)),
            str(sum(m.errors for m in ms)),
            rate,
        ]
        for label, ms, rate in runs
    ]
    return header, rows


def _ladder(results: Results) -> Table:
    header = ["step", "req/s", "vs floor", "CPU µs/req", "µs added", "p99 ms", "errors"]
    if not results.ladder:
        return header, []
    floor = results.ladder[0][1]  # the ladder starts with the floor
    rows = []
    previous: Measurement | None = None
    for step, m in results.ladder:
        rows.append(
            [
                step,
                f"{m.wrk.rps:.0f}",
                f"{m.wrk.rps / floor.wrk.rps:.2f}" if floor.wrk.rps else "n/a",
                f"{1000 * m.cpu_ms_per_request:.0f}",
                "-" if previous is None else f"{1000 * (m.cpu_ms_per_request - previous.cpu_ms_per_request):+.0f}",
                _ms(m.wrk.p99_ms),
                str(m.errors),
            ]
        )
        previous = m
    return header, rows


def _profiles(results: Results) -> Table:
    profiles = results.profiles.values()
    header = ["package running (innermost Python frame)", *(SCENARIOS[key].title for key in results.profiles)]
    shown = {package for p in profiles for package in p.by_package if p.share(package) >= _PROFILE_SHOWN}
    ranked = sorted(shown, key=lambda package: (-max(p.share(package) for p in profiles), package))
    rows = [[package, *(f"{p.share(package):.0%}" for p in profiles)] for package in ranked]
    if rows:
        rest = (max(0.0, 1 - sum(p.share(package) for package in shown)) for p in profiles)
        rows.append([f"everything else (each under {_PROFILE_SHOWN:.0%})", *(f"{share:.0%}" for share in rest)])
        rows.append(["samples", *(str(p.samples) for p in profiles)])
    return header, rows


def _process(results: Results) -> Table:
    rows = []
    if results.cold_starts:
        samples = ", ".join(f"{s:.2f}" for s in results.cold_starts)
        rows.append(
            [
                "app cold start (spawn → first 200 on /health/live)",
                f"{statistics.median(results.cold_starts):.2f} s (median of {samples})",
            ]
        )
    if results.app_memory:
        rows.append(["app RSS after load / peak", f"{results.app_memory[0]:.0f} MiB / {results.app_memory[1]:.0f} MiB"])
    if results.app_children_memory:
        count, rss, peak = results.app_children_memory
        rows.append(
            [
                f"processes the app started ({count}: Argon2 hashing), summed",
                f"{rss:.0f} MiB / {peak:.0f} MiB",
            ]
        )
    if results.floor_memory:
        rows.append(
            ["floor RSS after load / peak", f"{results.floor_memory[0]:.0f} MiB / {results.floor_memory[1]:.0f} MiB"]
        )
    return ["process", "measured"], rows


def _checks(results: Results) -> Table:
    rows = [[c.name, c.measured, c.target, "yes" if c.met else "NO"] for c in results.checks()]
    return ["target", "measured", "wanted", "met"], rows


def _text_table(table: Table) -> str:
    header, rows = table
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _markdown_table(table: Table) -> str:
    header, rows = table
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render(results: Results, about: list[tuple[str, str]], *, markdown: bool) -> str:
    """Every table that has rows, under a heading each; Markdown or aligned text."""
    sections = [
        ("Throughput and latency against the raw floor", _compared(results)),
        ("Concurrency sweep: errors are non-2xx answers plus socket errors and 10 s time-outs", _sweep(results)),
        ("Password hashing (sign-up, login)", _hashing(results)),
        ("Reads during a sign-up storm", _storm(results)),
        ("What each feature costs: GET /api/v1/users/{id}, one feature more per step", _ladder(results)),
        ("Where the app's CPU goes: py-spy samples by the package running (--profile)", _profiles(results)),
        ("Process", _process(results)),
        ("Targets", _checks(results)),
    ]
    table = _markdown_table if markdown else _text_table
    out = [f"### {title}\n\n{table(t)}" if markdown else f"{title}\n{table(t)}" for title, t in sections if t[1]]
    warnings = [
        ("The floor does not answer like the app", results.parity),
        ("Errors: these runs got error responses, lost connections or lost Redis, so their numbers are not valid",
         results.failures()),
    ]  # fmt: skip
    for title, items in warnings:
        if items:
            lines = "\n".join(f"- {item}" for item in items)
            out.insert(0, f"**{title}:**\n\n{lines}" if markdown else f"!! {title}:\n{lines}")
    if markdown:
        out.append("### Machine and settings\n\n" + _markdown_table((["what", "value"], [[k, v] for k, v in about])))
    else:
        out.append("Machine and settings\n" + "\n".join(f"  {k}: {v}" for k, v in about))
    return "\n\n".join(out) + "\n"
