"""Graceful drain: on SIGTERM, fail readiness first, keep serving, then stop.

A load balancer needs a few probe intervals to notice an instance is leaving.
``DrainingServer`` (used by ``quoin serve``) answers the first SIGTERM by
marking the process as draining — ``/health/ready`` turns 503 while every other
route keeps working — and only after ``DRAIN_SECONDS`` lets uvicorn stop
accepting connections, finish in-flight requests (at most
``SHUTDOWN_TIMEOUT`` seconds), run the app's shutdown (closing the pool) and
exit 0. A second signal (or a first SIGINT) skips the drain; either way the
process ends through the app's shutdown and Python's own exit.
"""

from __future__ import annotations

import contextlib
import contextvars
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import structlog
import uvicorn

__all__ = ["DRAINING", "DrainingServer"]

# Process-wide: the instance is on its way out.
DRAINING = threading.Event()

_log = structlog.get_logger("quoin.lifecycle")


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain period before a SIGTERM takes effect."""

    def __init__(self, config: uvicorn.Config, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First SIGTERM: drain, then exit 0; any other signal (or a second one): stop now, exit 0."""
        if sig != signal.SIGTERM or DRAINING.is_set():
            # Not through uvicorn's handle_exit. It re-raises the signal once stopped,
            # which kills the process before Python's exit handlers (SIGTERM) or
            # turns into a KeyboardInterrupt that click reports as "Aborted." on
            # stderr (SIGINT); and a second Ctrl-C would skip the app's shutdown,
            # which stops the hashing processes. Further signals change nothing:
            # the stop is bounded by SHUTDOWN_TIMEOUT and the app's shutdown.
            DRAINING.set()
            self.should_exit = True
            return
        DRAINING.set()
        if self.drain_seconds <= 0:
            self._stop_after_drain()
            return
        # The signal interrupts whatever request runs: log outside its context (request and trace ids).
        contextvars.Context().run(_log.info, "draining", seconds=self.drain_seconds)
        timer = threading.Timer(self.drain_seconds, self._stop_after_drain)
        timer.daemon = True
        timer.start()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Serve with uvicorn's signal handlers; once stopped, ignore SIGINT and SIGTERM.

        uvicorn restores the default handlers on the way out, and a signal then
        would kill the process in the middle of its exit: it is stopping already.
        """
        with super().capture_signals():
            yield
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)

    def _stop_after_drain(self) -> None:
        # Not through handle_exit: uvicorn would re-raise the recorded SIGTERM after
        # shutting down, and a drained instance is meant to exit 0.
        _log.info("drained")
        self.should_exit = True
