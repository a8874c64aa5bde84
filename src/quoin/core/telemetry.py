"""OpenTelemetry tracing: a tracer provider per app, HTTP server spans, SQL child spans, OTLP export.

Spans are created for every request (W3C ``traceparent`` is continued) and
sampled by ``OTEL_TRACES_SAMPLER_ARG`` (parent-based ratio). They are exported
over OTLP/HTTP only when an endpoint is configured, so the default costs no
network and still gives every log line a trace id. ``OTEL_ENABLED=false``
installs nothing at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from sqlalchemy.ext.asyncio import AsyncEngine

from quoin import __version__
from quoin.config import TelemetrySettings

__all__ = ["UNTRACED_PATHS", "Tracing"]

# Probes and scrapes run every few seconds; tracing them would drown real traffic.
UNTRACED_PATHS = ["^/metrics", "^/health/"]


class Tracing:
    """The app's own tracer provider (never the global one, so apps and tests stay independent)."""

    def __init__(self, settings: TelemetrySettings) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: settings.otel_service_name, "service.version": __version__}),
            sampler=ParentBased(TraceIdRatioBased(settings.otel_traces_sampler_arg)),
        )
        if endpoint := settings.traces_endpoint:
            # Imported only here: the exporter brings protobuf, which a process that exports nothing need not load.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))

    def plugin(self) -> OpenTelemetryPlugin:
        """Litestar's plugin: server spans for every request, named after the route by the observer."""
        return OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=self.provider,
                meter_provider=NoOpMeterProvider(),
                exclude=UNTRACED_PATHS,
                exclude_spans=["receive", "send"],
            )
        )

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """Child spans for every SQL statement of a sampled request run on ``engine`` (text, never parameters)."""
        meter = NoOpMeterProvider().get_meter(__name__)
        _SampledEngineTracer(  # type: ignore[no-untyped-call]  # the instrumentation package is untyped
            self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__),
            engine.sync_engine,
            meter.create_up_down_counter("db.client.connections.usage"),
        )

    async def shutdown(self) -> None:
        """Export what is still buffered, then stop."""
        await asyncio.to_thread(self.provider.shutdown)


class _SampledEngineTracer(EngineTracer):
    """The SQLAlchemy instrumentation, skipped for statements whose trace is not sampled.

    Its listener parses the statement and builds a span for every execution;
    under a sampling ratio most of those spans would be dropped anyway.
    """

    def _before_cur_exec(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> tuple[str, Any]:
        if not trace.get_current_span().is_recording():
            return statement, params
        traced: tuple[str, Any] = super()._before_cur_exec(  # type: ignore[no-untyped-call]
            conn, cursor, statement, params, context, executemany
        )
        return traced
