"""Logs, traces and metrics: structlog set-up, access log, OpenTelemetry tracing, Prometheus metrics and their port."""
