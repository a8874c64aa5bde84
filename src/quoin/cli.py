"""The ``quoin`` command: Litestar's CLI bound to this app, plus ``serve``.

``quoin database …`` (migrations) comes from advanced-alchemy's plugin,
``quoin routes``/``quoin schema`` from Litestar, and each feature's own
commands (``quoin users …``) from its ``FEATURE``.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from typing import Any

import click
import uvicorn
from litestar.cli.main import litestar_group

from quoin import __version__
from quoin.config import Settings, SettingsError
from quoin.core.observability.metrics_server import metrics_listener
from quoin.core.runtime.drain import DrainingServer
from quoin.db.errors import connection_failure, is_missing_table
from quoin.db.migrations import upgrade_to_head
from quoin.db.startup import DatabaseNotReadyError
from quoin.modules import FEATURES

__all__ = ["main"]

_APP = "quoin.app:create_app"
_HELP = """QuoinAPI: serve the API, migrate its database, manage its users, export its OpenAPI document.

Settings come from the environment and a .env file (README: Configuration).
"""
# Litestar's commands this app has no use for: `run` (use `serve`, which drains, reads the
# settings and migrates in development), server-side sessions, Litestar's own version and info.
_NOT_OURS = ("run", "sessions", "version", "info")


@click.command(name="serve")
@click.option("--host", help="Address to bind (default: HOST, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port of the API (default: PORT, else 8000).")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: WORKERS, else 1).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development only).")
def serve(host: str | None, port: int | None, workers: int | None, reload: bool) -> None:
    """Serve the API with uvicorn and the metrics on their own port; in development, migrate the database first."""
    given = {"HOST": host, "PORT": port, "WORKERS": workers}
    try:
        settings = Settings.from_env({**os.environ, **{k: str(v) for k, v in given.items() if v is not None}})
    except SettingsError as exc:
        click.echo(f"quoin: {exc}", err=True)
        sys.exit(2)
    if settings.app.is_development:
        upgrade_to_head()
    server = settings.server
    options: dict[str, Any] = {
        "factory": True,
        "host": server.host,
        "port": server.port,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.http.trusted_proxies,
        "log_config": None,
        "server_header": False,
        "timeout_graceful_shutdown": server.shutdown_timeout,
    }
    supervised = reload or server.workers > 1  # the app then runs in other processes
    with ExitStack() as metrics:
        try:
            metrics.enter_context(metrics_listener(server.host, server.metrics_port, across_processes=supervised))
        except OSError as exc:
            click.echo(
                f"quoin: cannot serve metrics on {server.host}:{server.metrics_port} (METRICS_PORT): {exc}", err=True
            )
            sys.exit(1)
        if supervised:
            # uvicorn's supervisor owns the signals then: no drain period.
            uvicorn.run(_APP, reload=reload, workers=None if reload else server.workers, **options)
        else:
            DrainingServer(uvicorn.Config(_APP, **options), drain_seconds=server.drain_seconds).run()


def main() -> None:
    """Entry point: validate settings (one clear line on a bad value), then run the CLI."""
    os.environ.setdefault("LITESTAR_APP", _APP)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        click.echo(f"quoin: {exc}", err=True)
        sys.exit(2)
    cli = litestar_group
    cli.help = _HELP
    for name in _NOT_OURS:
        cli.commands.pop(name, None)
    # rich-click's stubs want a RichCommand; a plain click command works the same.
    cli.add_command(serve)  # type: ignore[arg-type]
    for feature in FEATURES:
        for command in feature.commands:
            cli.add_command(command)  # type: ignore[arg-type]
    click.version_option(__version__, "--version", "-V", prog_name="quoin", message="%(prog)s %(version)s")(cli)
    try:
        cli(prog_name="quoin")
    except Exception as exc:  # an operator's mistake is one line; anything else keeps its traceback
        if (reason := _operator_error(exc, settings)) is None or settings.app.log_level.upper() == "DEBUG":
            raise
        click.echo(f"quoin: {reason}", err=True)
        sys.exit(1)


def _operator_error(exc: Exception, settings: Settings) -> str | None:
    """What the operator must fix, when ``exc`` says it: the database unreachable, refusing, or without schema."""
    if isinstance(exc, DatabaseNotReadyError):
        return str(exc)
    if (failure := connection_failure(exc, settings.db.url)) is not None:
        return failure.message
    if is_missing_table(exc):
        return "the database has no tables yet: run `quoin database upgrade` first"
    return None
