"""Log lines captured as the app renders them, for tests that read what operators would see."""

from __future__ import annotations

import json
import logging
from typing import Any

__all__ = ["LogCapture"]


class LogCapture(logging.Handler):
    """Collects log lines exactly as the app's stdout handler renders them."""

    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def events(self) -> list[dict[str, Any]]:
        """Every line captured, parsed (the JSON log format)."""
        return [json.loads(line) for line in self.lines]

    def access(self, route: str | None = None) -> list[dict[str, Any]]:
        """The access-log lines (of ``route``, if given)."""
        return [e for e in self.events() if e["event"] == "request" and (route is None or e["route"] == route)]
