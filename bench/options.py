"""The command line of ``./run bench``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ALL", "Options", "parse"]

ALL = ("get", "list", "patch", "signup", "login", "storm", "sweep", "ladder", "cold")
_LONGEST_RUN = 840


@dataclass(frozen=True)
class Options:
    """What the user asked for."""

    duration: int
    warmup: int
    rounds: int
    connections: int
    threads: int
    hashing_connections: int
    users: int
    selected: tuple[str, ...]
    overrides: dict[str, str]
    markdown: Path | None
    logs: Path | None
    profile: Path | None
    sweep_connections: tuple[int, ...]

    def wants(self, *scenarios: str) -> bool:
        """Whether any of ``scenarios`` was selected."""
        return any(name in self.selected for name in scenarios)


def parse(argv: Sequence[str] | None, description: str | None) -> Options:
    """The options, or exit 2 with a usage message."""
    parser = argparse.ArgumentParser(prog="./run bench", description=description)
    number = parser.add_argument
    number("--duration", type=int, default=10, help="seconds of each measured run (default 10)")
    number("--warmup", type=int, default=3, help="seconds of warm-up before each measured run (default 3)")
    number(
        "--rounds",
        type=int,
        default=2,
        help="app/floor alternations per floor scenario, alone/storm alternations for the storm (default 2)",
    )
    number("--connections", type=int, default=64, help="wrk connections (default 64)")
    number("--threads", type=int, default=2, help="wrk threads (default 2)")
    number("--hashing-connections", type=int, default=8, help="wrk connections for sign-up and login (default 8)")
    number("--users", type=int, default=10_000, help="users seeded before the runs (default 10000)")
    parser.add_argument("--scenarios", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    parser.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one of the app's settings for a what-if run, e.g. OTEL_SDK_DISABLED=true (repeatable)",
    )
    parser.add_argument(
        "--sweep-connections",
        default="16,64,256,1024",
        metavar="N,N,...",
        help="connection counts of the concurrency sweep over get, list and patch (default 16,64,256,1024)",
    )
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write the results as Markdown to PATH")
    parser.add_argument("--logs", type=Path, metavar="DIR", help="keep the servers' logs: copy them to DIR at the end")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="after each of get, list and patch, one more app run under py-spy: its stacks to DIR/<scenario>.txt "
        "and a table of where the app's CPU goes (py-spy must be allowed to trace the app: ptrace)",
    )
    args = parser.parse_args(argv)
    selected = tuple(name.strip() for name in args.scenarios.split(",") if name.strip())
    if unknown := sorted(set(selected) - set(ALL)):
        parser.error(f"unknown scenarios: {', '.join(unknown)} (choose from {', '.join(ALL)})")
    if args.profile and not set(selected) & {"get", "list", "patch"}:
        parser.error("--profile profiles get, list and patch: select at least one of them")
    if bad := [item for item in args.app_env if "=" not in item]:
        parser.error(f"--app-env wants NAME=VALUE, not {bad[0]!r}")
    try:
        sweep = tuple(int(item) for item in args.sweep_connections.split(",") if item.strip())
    except ValueError:
        parser.error(f"--sweep-connections wants comma-separated numbers, not {args.sweep_connections!r}")
    if not sweep or min(sweep) < 1:
        parser.error("--sweep-connections wants at least one count, each at least 1")
    counts = (args.duration, args.warmup, args.rounds, args.connections, args.threads, args.hashing_connections)
    if min(*counts, args.users) < 1:
        parser.error("durations, rounds, connections, threads and users must be at least 1")
    if args.duration + args.warmup > _LONGEST_RUN:
        # Each wrk run gets a fresh token, which must outlive it (ACCESS_TOKEN_TTL is 900 s).
        parser.error(f"--duration plus --warmup must stay under {_LONGEST_RUN} s")
    return Options(
        duration=args.duration,
        warmup=args.warmup,
        rounds=args.rounds,
        connections=args.connections,
        threads=args.threads,
        hashing_connections=args.hashing_connections,
        users=args.users,
        selected=selected,
        overrides=dict(item.split("=", 1) for item in args.app_env),
        markdown=args.markdown,
        logs=args.logs,
        profile=args.profile,
        sweep_connections=sweep,
    )
