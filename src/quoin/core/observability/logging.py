"""One logging pipeline for everything: structlog through Litestar's plugin, stdlib loggers included.

The app's structlog loggers and the standard-library loggers of uvicorn,
SQLAlchemy, Alembic and friends all end in one handler on stdout, rendered
by one renderer: colourful console lines in development, one JSON object per
line elsewhere (``LOG_FORMAT`` overrides). Every line carries the request id
and, while a span is active, the trace and span ids. Values under
secret-looking keys are masked before rendering.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from litestar.logging.config import LoggingConfig, StructLoggingConfig
from litestar.plugins.structlog import StructlogConfig, StructlogPlugin
from opentelemetry import trace
from structlog.typing import Processor

from quoin.config import AppSettings, LogFormat

__all__ = ["REDACTED", "SENSITIVE_KEYS", "TracebackToLastLine", "structlog_plugin"]

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset(
    {
        "password", "new_password", "hashed_password", "authorization", "cookie", "set-cookie", "x-api-key",
        "api_key", "key", "key_hash", "token", "access_token", "refresh_token", "secret", "secret_key",
    }
)  # fmt: skip


def add_trace_context(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Add the current OpenTelemetry ``trace_id`` and ``span_id`` (when a span is active)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def redact_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask values logged under secret-looking keys, whoever logged them."""
    for key in event_dict.keys() & SENSITIVE_KEYS:
        event_dict[key] = REDACTED
    return event_dict


def drop_color_message(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop uvicorn's ANSI-coloured duplicate of the message."""
    event_dict.pop("color_message", None)
    return event_dict


def _shared_processors(log_format: LogFormat) -> list[Processor]:
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        drop_color_message,  # after ExtraAdder: uvicorn passes it as an extra
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
        redact_secrets,
    ]
    if log_format is LogFormat.JSON:
        # Tracebacks as data, without local variables: locals hold passwords and tokens.
        processors.append(
            structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
        )
    return processors


def _renderer(log_format: LogFormat) -> Processor:
    if log_format is LogFormat.JSON:
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(
        colors=sys.stdout.isatty(),  # no escape codes in files and pipes
        exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
    )


# The line naming an exception in a formatted traceback: "package.module.SomeError: what went wrong".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*: ")


class TracebackToLastLine(logging.Filter):
    """Shortens a logged traceback to its last line (the exception and its message).

    uvicorn logs a failed start-up as the whole formatted traceback (an
    exception group's, as Litestar runs start-up hooks in a task group); the
    operator's error (a database that refused, a schema never migrated) is its
    innermost exception's line. Installed unless the log level is DEBUG.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, with a traceback message cut to its innermost exception's line."""
        message = record.getMessage()
        if "Traceback (most recent call last):" in message.partition("\n")[0]:
            lines = (line.lstrip(" |+-") for line in reversed(message.splitlines()))
            record.msg = next((line for line in lines if _EXCEPTION_LINE.match(line)), record.msg)
            record.args = None
        return True


def structlog_plugin(settings: AppSettings, *, echo_sql: bool = False) -> StructlogPlugin:
    """The plugin that configures structlog and the standard library to log through one handler.

    Framework exception logging is off: the problem-details handler logs
    crashes itself (with the request and trace ids), and the framework would
    also log handled 4xx with tracebacks. Litestar's request/response logging
    middleware is off too: it logs headers and bodies; the access log
    (``quoin.core.observability.access_log``) logs one line of chosen fields instead.
    """
    log_format = settings.effective_log_format
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    shared = _shared_processors(log_format)
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "foreign_pre_chain": shared,
        "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(log_format)],
    }
    quiet = {"level": "WARNING", "handlers": [], "propagate": True}
    stdlib = LoggingConfig(
        formatters={"quoin": formatter},
        filters={"traceback_to_last_line": {"()": TracebackToLastLine}},
        handlers={"stdout": {"class": "logging.StreamHandler", "formatter": "quoin", "stream": "ext://sys.stdout"}},
        root={"level": logging.getLevelName(level), "handlers": ["stdout"]},
        loggers={
            "litestar": {"level": logging.getLevelName(level), "handlers": [], "propagate": True},
            # uvicorn's own access lines are replaced by ours; its error log stays.
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "uvicorn.error": {
                "level": logging.getLevelName(level),
                "handlers": [],
                "propagate": True,
                "filters": [] if level <= logging.DEBUG else ["traceback_to_last_line"],
            },
            "sqlalchemy.engine": {"level": "INFO" if echo_sql else "WARNING", "handlers": [], "propagate": True},
            # The pool logs under its class's module: ours, outside the "sqlalchemy" tree that SQLAlchemy quiets.
            "quoin.db.pool": quiet,
            "httpx": quiet,
            "httpcore": quiet,
        },
        log_exceptions="never",
    )
    return StructlogPlugin(
        StructlogConfig(
            structlog_logging_config=StructLoggingConfig(
                processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
                logger_factory=structlog.stdlib.LoggerFactory(),
                wrapper_class=structlog.make_filtering_bound_logger(level),
                standard_lib_logging_config=stdlib,
                log_exceptions="never",
            ),
            enable_middleware_logging=False,
        )
    )
