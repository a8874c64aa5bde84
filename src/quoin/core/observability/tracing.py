"""OpenTelemetry tracing: a tracer provider per app, HTTP server spans, SQL child spans, OTLP export.

OpenTelemetry's variables configure it. With a ``parentbased_*`` sampler (the
default) a request that continues a caller's trace (W3C ``traceparent``) is
traced as the caller decided; every other request is sampled by the sampler
before any instrumentation runs, so an unsampled request costs nothing here
(``HeadSampledMiddleware``). Spans are exported over OTLP (``http/protobuf``,
or ``grpc`` when its exporter is installed) only when an endpoint is
configured. ``OTEL_SDK_DISABLED=true`` installs nothing at all.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.plugins.opentelemetry import OpenTelemetryConfig
from litestar.plugins.opentelemetry.middleware import OpenTelemetryInstrumentationMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from sqlalchemy.ext.asyncio import AsyncEngine

from quoin import __version__
from quoin.config import OtlpProtocol, TelemetrySettings

__all__ = ["TRACING_STATE_KEY", "UNTRACED_PATHS", "HeadSampledConfig", "HeadSampledMiddleware", "Tracing"]

TRACING_STATE_KEY = "tracing"  # the app's Tracing (None when off), in its State

# Probes run every few seconds; tracing them would drown real traffic.
UNTRACED_PATHS = ["^/health/"]


class Tracing:
    """The app's own tracer provider (never the global one, so apps and tests stay independent)."""

    def __init__(self, settings: TelemetrySettings) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: settings.otel_service_name, "service.version": __version__}),
            # HeadSampledMiddleware samples: the requests that reach the provider are kept,
            # as their caller decided when the sampler follows it.
            sampler=ParentBased(ALWAYS_ON) if settings.follows_parent else ALWAYS_ON,
        )
        self.new_trace_ratio = settings.new_trace_ratio
        self.follows_parent = settings.follows_parent
        if endpoint := settings.traces_endpoint:
            self.provider.add_span_processor(
                BatchSpanProcessor(_exporter(settings.otel_exporter_otlp_protocol, endpoint))
            )

    def middleware(self) -> DefineMiddleware:
        """Server spans for traced requests, named after the route by the observer.

        Given as app middleware, Litestar's documented way: Litestar then makes
        it the outermost layer through its OpenTelemetry plugin. (The plugin
        built directly would use Litestar's own middleware class, not the
        config's ``middleware_class``.)
        """
        return HeadSampledConfig(
            tracer_provider=self.provider,
            meter_provider=NoOpMeterProvider(),
            exclude=UNTRACED_PATHS,
            exclude_spans=["receive", "send"],
            middleware_class=HeadSampledMiddleware,
            new_trace_ratio=self.new_trace_ratio,
            follows_parent=self.follows_parent,
        ).middleware

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """Child spans for every SQL statement of a sampled request run on ``engine`` (text, never parameters).

        The instrumentation's ``EngineTracer`` is attached directly: its
        ``SQLAlchemyInstrumentor`` checks the installed SQLAlchemy against the
        range it declares (below 2.1) and instruments nothing on 2.1.
        """
        meter = NoOpMeterProvider().get_meter(__name__)
        _SampledEngineTracer(  # type: ignore[no-untyped-call]  # the instrumentation package is untyped
            self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__),
            engine.sync_engine,
            meter.create_up_down_counter("db.client.connections.usage"),
        )

    async def shutdown(self) -> None:
        """Export what is still buffered, then stop."""
        await asyncio.to_thread(self.provider.shutdown)


@dataclass
class HeadSampledConfig(OpenTelemetryConfig):
    """Litestar's OpenTelemetry config, plus the share of traces to record and whether a caller's trace decides."""

    new_trace_ratio: float = 1.0
    follows_parent: bool = True


def _exporter(protocol: OtlpProtocol, endpoint: str) -> SpanExporter:
    """The OTLP exporter for ``protocol``, imported here only: processes that export nothing load no protobuf."""
    if protocol is OtlpProtocol.GRPC:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]  # noqa: PLC0415  # optional
            OTLPSpanExporter as GrpcExporter,
        )

        exporter: SpanExporter = GrpcExporter(endpoint=endpoint)
        return exporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

    return OTLPSpanExporter(endpoint=endpoint)


class HeadSampledMiddleware(OpenTelemetryInstrumentationMiddleware):
    """Litestar's OpenTelemetry middleware, entered only by requests whose trace is recorded.

    The ASGI instrumentation builds a request's attributes, a span and a
    wrapped ``send`` whether or not the span is sampled, a measurable share
    of a request (docs/performance.md) for the nine in ten requests of a 0.1
    ratio that record nothing. A new trace (no ``traceparent``) is therefore sampled here first,
    and an unsampled one goes straight to the app: no span, and its log lines
    carry no trace id (they carry the request id). A request continuing a
    caller's trace always enters, and the caller's sampled flag decides.
    """

    def __init__(self, app: ASGIApp, config: OpenTelemetryConfig) -> None:
        super().__init__(app, config)
        sampled = config if isinstance(config, HeadSampledConfig) else None
        self._ratio = sampled.new_trace_ratio if sampled else 1.0
        self._follows_parent = sampled.follows_parent if sampled else True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Trace the request if its caller's trace decides for it or the sampler picks it; else just run the app."""
        continues_a_trace = self._follows_parent and any(name == b"traceparent" for name, _ in scope.get("headers", ()))
        if continues_a_trace or random.random() < self._ratio:  # noqa: S311  # sampling, not secrecy
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)


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
