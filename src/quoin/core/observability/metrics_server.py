"""The metrics listener: Prometheus text on ``METRICS_PORT``, apart from the API port.

Metrics never share a port with the API, so no path trick through a load
balancer (``/metrics/``, ``//metrics``, ``/%6detrics``) can reach them: the
balancer and the Kubernetes Service route the API port only, and the scraper
reaches each instance directly. ``quoin serve`` starts the listener in its
main process, before uvicorn, and closes it after uvicorn has stopped; the app
factory never does, so in-process apps (tests) open no port.

prometheus_client's threaded WSGI server serves it: independent of the event
loop (a busy or stuck loop still gets scraped) and of uvicorn's signal
handling. It answers ``GET`` on any path (``/metrics`` by convention).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["metrics_listener"]

# prometheus_client's own variable: where each worker process writes its metrics.
_MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def metrics_listener(host: str, port: int, *, across_processes: bool = False) -> Iterator[None]:
    """Serve the metrics on ``host:port`` for the duration of the block.

    Alone (one worker, in this process) it serves this process's registry.
    With ``across_processes`` (uvicorn's supervisor, whose workers are other
    processes) it serves the sum of every worker's metrics through
    prometheus_client's multiprocess mode; when ``PROMETHEUS_MULTIPROC_DIR``
    is unset it is set here, to a private directory removed afterwards, so the
    workers started after it write there. Raises ``OSError`` if the port
    cannot be bound.
    """
    with ExitStack() as cleanup:
        registry = REGISTRY
        if across_processes:
            directory = os.environ.get(_MULTIPROCESS_DIR) or _private_directory(cleanup)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]  # untyped upstream
        server, thread = start_http_server(port, host, registry)
        cleanup.callback(thread.join)
        cleanup.callback(server.server_close)
        cleanup.callback(server.shutdown)
        yield


def _private_directory(cleanup: ExitStack) -> str:
    directory = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="quoin-metrics-"))
    os.environ[_MULTIPROCESS_DIR] = directory
    cleanup.callback(os.environ.pop, _MULTIPROCESS_DIR, None)
    return directory
