"""``./run bench``: a private PostgreSQL, the app as users run it, the raw floor, wrk, and a report."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

import httpx

from bench.database import Seeded, create_superuser, migrate, seed_users, start_postgres
from bench.environment import BenchEnvironment
from bench.hashing import hashing_ceiling
from bench.load import ensure_wrk
from bench.options import Options, parse
from bench.parity import differences
from bench.processes import ServerProcess, compile_bytecode, spawn_app, spawn_floor, spawn_ladder
from bench.profile import check_py_spy
from bench.redis_server import ensure_redis_server, start_redis
from bench.report import machine, render
from bench.results import Results
from bench.scenarios import FLOOR_SCENARIOS, HASHING_SCENARIOS, MISSING_USER, SCENARIOS, Load, Measurement, Runner
from quoin.config import PasswordSettings

__all__ = ["main"]

ADMIN = ("bench-admin@example.com", "bench admin password 1234")
COLD_STARTS = 3
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# The app's features that settings turn off, in the order the ladder turns them back on: (what, setting, off).
_SWITCHED = (
    ("+ rate limiting: per caller, counted in Redis", "RATE_LIMIT_ENABLED", "false"),
    ("+ access log: a JSON line per request", "LOG_LEVEL", "WARNING"),
    ("+ metrics: Prometheus counters, histogram, in progress", "METRICS_ENABLED", "false"),
    ("+ tracing, {ratio:.0%} of requests sampled (no exporter)", "OTEL_SDK_DISABLED", "true"),
)
# What the app logs when its rate-limit counters in Redis stop answering (it then lets requests through).
_REDIS_OUTAGE = "redis_unavailable"


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _show(label: str, m: Measurement) -> None:
    w = m.wrk
    flag = f"  !! {m.error_answers} error answers, {w.socket_errors} socket errors" if m.failed else ""
    _say(
        f"  {label:<34} {m.server:<5} {w.rps:9.1f} req/s  p50 {w.p50_ms:8.2f} ms  p99 {w.p99_ms:8.2f} ms"
        f"  {m.cpu_ms_per_request:7.2f} CPU ms/req{flag}"
    )


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    # One unwinding for Ctrl-C, SIGTERM and SIGHUP; later signals (uv forwards the
    # one it got too) are ignored so they cannot cut the clean-up short.
    for other in _SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def _prepare(options: Options, workdir: Path, stack: ExitStack) -> tuple[BenchEnvironment, Seeded]:
    """PostgreSQL started, migrated and seeded; the superuser created; Redis started for the rate limits."""
    _say("starting a private PostgreSQL")
    postgres, url = start_postgres()
    stack.callback(postgres.stop)
    _say(f"  in {postgres.root}, port {postgres.port}")
    _say("starting a private Redis (the rate limits' counters)")
    redis = start_redis()
    stack.callback(redis.remove)
    _say(f"  in {redis.directory}, port {redis.port}")
    env = BenchEnvironment.production(url, redis.url).overridden(options.overrides)
    _say("migrating (quoin database upgrade)")
    migrate(env.variables, workdir)
    _say(f"seeding {options.users} users")
    seeded = asyncio.run(seed_users(env.settings(), options.users, workdir))
    _say(f"  copied in {seeded.seconds:.2f} s")
    create_superuser(env.variables, workdir, *ADMIN)
    compile_bytecode()
    return env, seeded


def _cold_starts(env: BenchEnvironment, workdir: Path) -> list[float]:
    samples = []
    for attempt in range(COLD_STARTS):
        app = spawn_app(env.variables, workdir, workdir / f"cold-{attempt}.log")
        try:
            samples.append(app.wait_live())
        finally:
            app.stop()
        _say(f"  cold start {attempt + 1}: {samples[-1]:.2f} s")
    return samples


def _start(server: ServerProcess, stack: ExitStack, logs: Path | None) -> ServerProcess:
    if logs is not None:
        stack.callback(_keep_log, server, logs)  # runs after the server has stopped
    stack.callback(server.stop)
    server.wait_live()
    return server


def _keep_log(server: ServerProcess, logs: Path) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    shutil.copy(server.log, logs / server.log.name)


def _load(options: Options, runner: Runner, passwords: PasswordSettings, results: Results) -> None:
    """Every selected load scenario, in a fixed order (sign-ups last: they grow the table)."""
    for key in (k for k in FLOOR_SCENARIOS if options.wants(k)):
        _say(SCENARIOS[key].title)
        results.compared[key] = runner.compare(SCENARIOS[key], options.rounds)
        for m in results.compared[key]:
            _show(SCENARIOS[key].title, m)
        if options.profile:
            profile = runner.profile(SCENARIOS[key], options.profile / f"{key}.txt")
            results.profiles[key] = profile
            top = ", ".join(f"{name} {share:.0%}" for name, share in profile.largest(3))
            _say(f"  profiled: {profile.samples} samples in {profile.stacks}; {top}")
            if profile.errors:
                _say(f"  !! {profile.errors} errors during the profiled run: see the app's log ({runner.app.log})")
    if options.wants(*HASHING_SCENARIOS):
        _say("Argon2 ceiling (the app's hasher, one hashing process per core)")
        results.ceiling = hashing_ceiling(passwords)
        _say(f"  {results.ceiling:.1f} hashes/s")
    for key in (k for k in HASHING_SCENARIOS if options.wants(k)):
        _say(SCENARIOS[key].title)
        results.hashing[key] = runner.alone(SCENARIOS[key])
        _show(SCENARIOS[key].title, results.hashing[key])
    if options.wants("sweep"):
        for key in FLOOR_SCENARIOS:
            for connections in options.sweep_connections:
                _say(f"sweep: {SCENARIOS[key].title} at {connections} connections")
                point = runner.sweep(SCENARIOS[key], connections)
                results.sweep.append(point)
                _show(f"{key} x{connections}", point.app)
                _show(f"{key} x{connections}", point.floor)
    if options.wants("storm"):
        _say("GET /api/v1/users/{id} alone, then during a sign-up storm")
        for _ in range(options.rounds):
            storm = runner.storm()
            results.storms.append(storm)
            _show("alone", storm.alone)
            _show("during sign-up storm", storm.during)
            _say(f"  sign-ups during the storm: {storm.signups.rps:.1f}/s")


def _ladder(runner: Runner, env: BenchEnvironment, workdir: Path, logs: Path | None, results: Results) -> None:
    """GET /users/{id} from the raw floor up to the app, one feature more per step, then a 404 (bench/ladder.py)."""
    get = SCENARIOS["get"]
    ratio = env.settings().telemetry.otel_traces_sampler_arg

    def app_with(step: int) -> Callable[[], ServerProcess]:
        # The features from ``step`` on still off; the app as run, less its security headers, once none are.
        off = {name: value for _, name, value in _SWITCHED[step:]}
        return lambda: spawn_ladder("app", env.overridden(off).variables, workdir, workdir / f"ladder-app-{step}.log")

    spawned: list[tuple[str, Callable[[], ServerProcess]]] = [
        ("routing: a Litestar route, typed path parameter, UserRead (asyncpg)",
         lambda: spawn_ladder("framework", env.variables, workdir, workdir / "ladder-framework.log")),
        ("+ DI: request session (advanced-alchemy), UserRepository",
         lambda: spawn_ladder("repository", env.variables, workdir, workdir / "ladder-repository.log")),
        ("+ authentication (token, caller remembered, guard), the app's handler and stack", app_with(0)),
        *((what.format(ratio=ratio), app_with(step + 1)) for step, (what, _, _) in enumerate(_SWITCHED)),
    ]  # fmt: skip
    steps = results.ladder
    steps.append(("raw floor: bare ASGI, asyncpg, hand-written SQL", runner.measure(runner.floor, get)))
    for label, spawn in spawned:
        _say(f"  {label}")
        with ExitStack() as stack:
            server = _start(spawn(), stack, logs)
            steps.append((label, runner.measure(server, get)))
            _check_redis(server, label, results)
    steps.append(("+ security headers: the app as run", runner.measure(runner.app, get)))
    if env.settings().server.metrics_enabled:  # its 404s are told from other errors by the app's metrics
        steps.append(
            ("problem details: 404 for a missing id, not a found one", runner.measure(runner.app, MISSING_USER))
        )
    else:
        _say("  (no problem-details step: it needs the app's metrics, off by METRICS_ENABLED=false)")


def _check_redis(server: ServerProcess, label: str, results: Results) -> None:
    """Note ``label`` if the server's rate limits lost Redis (and let requests through uncounted) at some point."""
    if server.logged(_REDIS_OUTAGE):
        results.store_outages.append(label)


def _measure(options: Options, workdir: Path, stack: ExitStack) -> tuple[Results, BenchEnvironment]:
    env, seeded = _prepare(options, workdir, stack)
    results = Results()
    if options.wants("cold"):
        _say("cold start of quoin serve")
        results.cold_starts = _cold_starts(env, workdir)
    if not options.wants(*FLOOR_SCENARIOS, *HASHING_SCENARIOS, "storm", "sweep", "ladder"):
        return results, env
    app = _start(spawn_app(env.variables, workdir, workdir / "app.log"), stack, options.logs)
    floor = _start(spawn_floor(env.variables, workdir, workdir / "floor.log"), stack, options.logs)
    _say(f"app on {app.base_url} (log {app.log}), floor on {floor.base_url}")
    if options.profile:
        check_py_spy(app.process.pid)  # before any load: a refused ptrace should not cost a whole run
        options.profile.mkdir(parents=True, exist_ok=True)
    load = Load(options.duration, options.warmup, options.connections, options.threads, options.hashing_connections)
    runner = Runner(app, floor, seeded, load, ADMIN)
    results.parity = differences(app.base_url, floor.base_url, runner.token(), seeded.first_id())
    for difference in results.parity:
        _say(f"  !! the floor differs from the app: {difference}")
    try:
        _load(options, runner, env.settings().passwords, results)
        if options.wants("ladder"):
            _say("the feature ladder: GET /api/v1/users/{id}")
            _ladder(runner, env, workdir, options.logs, results)
            for label, m in results.ladder:
                _show(label[:34], m)
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        for server in (app, floor):
            if server.process.poll() is not None:
                exc.add_note(f"{server.name} exited with {server.process.returncode}; its log ends:\n{server.tail()}")
        raise
    results.app_memory, results.floor_memory = app.memory_mib(), floor.memory_mib()
    results.app_children_memory = app.children_memory_mib()
    _check_redis(app, "the app", results)
    if results.failures():
        _say(f"the run is not valid (errors below); the end of the app's log ({app.log}):\n{app.tail()}")
    return results, env


def _settings(options: Options, env: BenchEnvironment) -> list[tuple[str, str]]:
    settings = env.settings()
    passwords, limits = settings.passwords, settings.rate_limit
    rate_limits = "off (RATE_LIMIT_ENABLED=false)"
    if limits.rate_limit_enabled:
        store = "the harness's Redis" if limits.redis_url else "the app's memory (no REDIS_URL)"
        rate_limits = (f"on, counted in {store}; per minute: {limits.rate_limit_per_minute:,} requests per caller, "
                       f"{limits.login_rate_limit_per_minute:,} logins and {limits.signup_rate_limit_per_minute:,} "
                       "sign-ups per address")  # fmt: skip
    rows = [
        ("measured run / warm-up", f"{options.duration} s / {options.warmup} s, {options.rounds} app/floor rounds"),
        ("wrk", f"{options.threads} threads, {options.connections} connections ({options.hashing_connections} for "
         "sign-up/login)"),
        ("seeded users", str(options.users)),
        ("Argon2id", f"time_cost={passwords.argon2_time_cost}, memory_cost={passwords.argon2_memory_cost} KiB, "
         f"parallelism={passwords.argon2_parallelism}"),
        ("app", "quoin serve, ENV=production, WORKERS=1, LOG_FORMAT=json (to a file), metrics and auth on, "
         "tracing on (OTEL_TRACES_SAMPLER_ARG=0.1) (no exporter)"),
        ("app's rate limits", rate_limits),
    ]  # fmt: skip
    if options.overrides:
        rows.append(("app settings overridden", " ".join(f"{k}={v}" for k, v in options.overrides.items())))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark: 0 done, 1 a server answered errors, 2 it could not run, 130 interrupted."""
    options = parse(argv, "Benchmark the app, as production runs it, against a raw floor (docs/performance.md).")
    for signum in _SIGNALS:
        signal.signal(signum, _interrupt)
    load = os.getloadavg()  # before anything of ours runs: the machine's own
    if load[0] > 1.0:
        _say(f"warning: load average {load[0]:.1f}: others use the CPU; numbers will be low and noisy")
    try:
        ensure_wrk()
        ensure_redis_server()
        about = machine(load)  # after wrk and Redis are installed, so their versions are known
        with ExitStack() as stack:
            workdir = Path(tempfile.mkdtemp(prefix="quoin-bench-"))
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
            results, env = _measure(options, workdir, stack)
            _say("stopping servers, removing temporary files")
    except KeyboardInterrupt:
        _say("interrupted; servers stopped, temporary files removed")
        return 130
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        # A server that would not start or died, a missing binary: say why, no traceback.
        _say("error: " + "\n".join([str(exc), *getattr(exc, "__notes__", [])]))
        return 2
    about += _settings(options, env)
    print(render(results, about, markdown=False))
    if options.markdown:
        options.markdown.write_text(render(results, about, markdown=True))
        _say(f"wrote {options.markdown}")
    return 1 if results.failures() else 0
