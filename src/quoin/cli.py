"""The ``quoin`` command: Litestar's CLI bound to this app, plus ``serve``.

``quoin database …`` (migrations) comes from advanced-alchemy's plugin,
``quoin routes``/``quoin schema`` from Litestar, and each feature's own
commands (``quoin users …``) from its ``FEATURE``.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
import msgspec
import uvicorn
from dotenv import load_dotenv
from litestar import Litestar
from litestar.cli._utils import LitestarGroup
from litestar.cli.main import litestar_group
from litestar.config.app import AppConfig
from litestar.serialization import encode_json
from rich import get_console

from quoin import __version__
from quoin.config import LogFormat, Settings, SettingsError
from quoin.core.http.openapi import corrected_openapi
from quoin.core.observability.logging import structlog_plugin
from quoin.core.observability.metrics_server import metrics_listener
from quoin.core.runtime.drain import DrainingServer
from quoin.db.errors import connection_failure, is_database_error, is_missing_table
from quoin.db.migrations import upgrade_to_head
from quoin.db.startup import DatabaseNotReadyError
from quoin.modules import FEATURES

__all__ = ["main"]

_APP = "quoin.app:create_app"
_HELP = """QuoinAPI: serve the API, migrate its database, manage its users, export its OpenAPI document.

Settings come from the environment and a .env file (README: Configuration).
"""
# Litestar's commands this app has no use for: `run` (use `serve`, which drains, reads the
# settings and migrates in development), server-side sessions, Litestar's own version and
# info; and its `schema`, which exports the document without the app's corrections.
_NOT_OURS = ("run", "sessions", "version", "info", "schema")


@click.command(name="serve")
@click.option("--host", help="Address to bind (default: HOST, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port of the API (default: PORT, else 8000).")
@click.option("--workers", type=click.IntRange(min=1), help="Worker processes (default: WORKERS, else 1).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development only).")
def serve(host: str | None, port: int | None, workers: int | None, reload: bool) -> None:
    """Serve the API with uvicorn and the metrics on their own port (unless off); in development, migrate first."""
    given = {"HOST": host, "PORT": port, "WORKERS": workers}
    try:
        settings = Settings.from_env({**os.environ, **{k: str(v) for k, v in given.items() if v is not None}})
    except SettingsError as exc:
        click.echo(f"quoin: {exc}", err=True)
        sys.exit(2)
    # The app sets up logging when uvicorn builds it; this process logs before that (the migration in
    # development; with several workers, uvicorn's supervisor, which builds none): the same set-up now.
    structlog_plugin(settings.app, echo_sql=settings.db.db_echo).on_app_init(AppConfig())
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
        "ws": "none",  # no WebSocket routes: the websockets library stays unloaded
        "timeout_graceful_shutdown": server.shutdown_timeout,
    }
    supervised = reload or server.workers > 1  # the app then runs in other processes
    with ExitStack() as metrics:
        try:
            if server.metrics_enabled:
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


@click.group(cls=LitestarGroup, name="schema")
def schema_group() -> None:
    """Export the OpenAPI document, exactly as the app serves it at /schema/openapi.json."""


@schema_group.command(name="openapi")  # type: ignore[untyped-decorator]  # LitestarGroup's is untyped
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("openapi.json"), show_default=True
)
def export_openapi(app: Litestar, output: Path) -> None:
    """Write the OpenAPI 3.1 document as JSON (for client generators; README: Client generation)."""
    try:
        output.write_bytes(msgspec.json.format(encode_json(corrected_openapi(app).to_schema()), indent=2) + b"\n")
    except OSError as exc:
        raise click.FileError(str(output), exc.strerror) from None
    click.echo(f"wrote {output}")


def main() -> None:
    """Entry point: validate settings (one clear line on a bad value), then run the CLI."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        click.echo(f"quoin: {exc}", err=True)
        sys.exit(2)
    if settings.app.effective_log_format is LogFormat.JSON:
        # Where logs are JSON lines (production), rich's banners must not come between them;
        # advanced-alchemy's `database` commands print through rich's shared console.
        get_console().quiet = True
    if sys.argv[1:2] == [serve.name]:
        # Without Litestar's group, which builds an app of its own on start (for its plugins'
        # commands) that would stay, idle, in the serving process beside the app served. As the
        # group does, the .env file joins the environment (real variables win): libraries such
        # as OpenTelemetry's exporter read it there.
        load_dotenv(".env")
        cli = click.Group(commands=[serve], context_settings=litestar_group.context_settings)
    else:
        cli = _commands()
    try:
        code = cli(prog_name="quoin", standalone_mode=False)
    except click.ClickException as exc:  # a usage error or a command's refusal: one line, not rich-click's panel
        click.echo(f"quoin: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("quoin: aborted", err=True)
        sys.exit(1)
    except Exception as exc:  # an operator's mistake is one line; anything else keeps its traceback
        if (reason := _operator_error(exc, settings)) is None or settings.app.log_level.upper() == "DEBUG":
            raise
        click.echo(f"quoin: {reason}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _commands() -> click.Group:
    """Litestar's CLI bound to this app: its commands and ours."""
    os.environ.setdefault("LITESTAR_APP", _APP)
    cli = litestar_group
    cli.help = _HELP
    for name in _NOT_OURS:
        cli.commands.pop(name, None)
    # rich-click's stubs want a RichCommand; a plain click command works the same.
    cli.add_command(serve)  # type: ignore[arg-type]
    cli.add_command(schema_group)
    for feature in FEATURES:
        for command in feature.commands:
            cli.add_command(command)  # type: ignore[arg-type]
    click.version_option(__version__, "--version", "-V", prog_name="quoin", message="%(prog)s %(version)s")(cli)
    return cli


def _operator_error(exc: Exception, settings: Settings) -> str | None:
    """What the operator must fix, when ``exc`` says it: the database unreachable, refusing, or without schema."""
    if isinstance(exc, DatabaseNotReadyError):
        return str(exc)
    if not is_database_error(exc):  # a file that cannot be written is not the database's fault
        return None
    if (failure := connection_failure(exc, settings.db.url)) is not None:
        return failure.message
    if is_missing_table(exc):
        return "the database has no tables yet: run `quoin database upgrade` first"
    return None
