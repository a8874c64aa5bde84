"""The observability concern: logs, the access log, metrics of requests and of the pool, and tracing."""

from __future__ import annotations

from collections.abc import Callable

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from sqlalchemy.ext.asyncio import AsyncEngine

from quoin.config import AppSettings, TelemetrySettings
from quoin.core.observability.access_log import RequestContextMiddleware, response_observer
from quoin.core.observability.logging import structlog_plugin
from quoin.core.observability.metrics import watch_pool
from quoin.core.observability.tracing import TRACING_STATE_KEY, Tracing

__all__ = ["ObservabilityPlugin"]


class ObservabilityPlugin(InitPluginProtocol):
    """structlog for every logger, the access log and request metrics (outermost), and sampled tracing.

    With ``metrics`` off (``METRICS_ENABLED=false``) requests and the pool are not counted.
    """

    def __init__(
        self, app: AppSettings, telemetry: TelemetrySettings, *, echo_sql: bool = False, metrics: bool = True
    ) -> None:
        self._app = app
        self._echo_sql = echo_sql
        self._metrics = metrics
        self.tracing = None if telemetry.otel_sdk_disabled else Tracing(telemetry)

    @property
    def engine_hooks(self) -> list[Callable[[AsyncEngine], None]]:
        """What watches the database engine: the pool's gauges with metrics on, SQL spans with tracing on."""
        return [*([watch_pool] if self._metrics else []), *([self.tracing.instrument_engine] if self.tracing else [])]

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Put the request context outermost, observe every answer, and add tracing when it is on."""
        app_config.plugins.append(structlog_plugin(self._app, echo_sql=self._echo_sql))
        app_config.middleware.insert(0, RequestContextMiddleware(metrics=self._metrics))
        app_config.before_send.append(response_observer(metrics=self._metrics))
        app_config.state[TRACING_STATE_KEY] = self.tracing
        if self.tracing is not None:
            app_config.middleware.append(self.tracing.middleware())  # Litestar moves it outermost
            app_config.on_shutdown.append(self.tracing.shutdown)
        return app_config
