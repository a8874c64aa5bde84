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

from quoin.config import Settings, SettingsError
from quoin.core.observability.metrics_server import metrics_listener
from quoin.core.runtime.drain import DrainingServer
from quoin.db.migrations import upgrade_to_head
from quoin.modules import FEATURES

__all__ = ["main"]

_APP = "quoin.app:create_app"


@click.command(name="serve")
@click.option("--reload", is_flag=True, help="Restart on code changes (development only).")
def serve(reload: bool) -> None:
    """Serve the API with uvicorn and the metrics on their own port; in development, migrate the database first."""
    settings = Settings.from_env()
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
        Settings.from_env()
    except SettingsError as exc:
        click.echo(f"quoin: {exc}", err=True)
        sys.exit(2)
    # rich-click's stubs want a RichCommand; a plain click command works the same.
    litestar_group.add_command(serve)  # type: ignore[arg-type]
    for feature in FEATURES:
        for command in feature.commands:
            litestar_group.add_command(command)  # type: ignore[arg-type]
    litestar_group(prog_name="quoin")
