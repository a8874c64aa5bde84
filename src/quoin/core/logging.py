"""Structured logging through Litestar's structlog plugin."""

from __future__ import annotations

import logging

import structlog
from litestar.logging.config import StructLoggingConfig
from litestar.plugins.structlog import StructlogConfig, StructlogPlugin

from quoin.config import AppSettings

__all__ = ["structlog_plugin"]


def structlog_plugin(settings: AppSettings) -> StructlogPlugin:
    """Colourful console lines in development on a terminal, one JSON object per line otherwise.

    Exceptions are logged by the problem-details handler (with the request id),
    never by the framework, which would also log handled 4xx with tracebacks.
    The request/response logging middleware is off: it logs headers and bodies.
    """
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    return StructlogPlugin(
        StructlogConfig(
            structlog_logging_config=StructLoggingConfig(
                wrapper_class=structlog.make_filtering_bound_logger(level),
                pretty_print_tty=settings.is_development,
                log_exceptions="never",
            ),
            enable_middleware_logging=False,
        )
    )
