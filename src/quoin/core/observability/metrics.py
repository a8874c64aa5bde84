"""Prometheus metrics: requests by route template, method and status; the database pool.

Metrics live in prometheus_client's default registry (one per process);
``quoin.core.observability.metrics_server`` serves them on their own port, never on the API's
(with several workers, through prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

__all__ = [
    "REQUESTS",
    "REQUESTS_IN_PROGRESS",
    "REQUEST_DURATION",
    "watch_pool",
]

REQUESTS = Counter(
    "quoin_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["method", "route", "status"],
)
REQUEST_DURATION = Histogram(
    "quoin_http_request_duration_seconds",
    "Time from routing to the last byte of the response.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REQUESTS_IN_PROGRESS = Gauge(
    "quoin_http_requests_in_progress",
    "Requests being handled right now.",
    ["method", "route"],
    multiprocess_mode="livesum",
)


_POOL_READINGS: dict[str, tuple[str, Callable[[QueuePool], int]]] = {
    "quoin_db_pool_size": ("Connections the pool keeps open.", lambda pool: pool.size()),
    "quoin_db_pool_checked_out": ("Connections in use by requests.", lambda pool: pool.checkedout()),
    "quoin_db_pool_overflow": ("Connections open beyond the pool size.", lambda pool: max(pool.overflow(), 0)),
    "quoin_db_pool_checked_in": ("Idle connections in the pool.", lambda pool: pool.checkedin()),
}


class _PoolCollector(Collector):
    """Reads the connection pools of the engines being watched at scrape time."""

    def __init__(self) -> None:
        self.engines: weakref.WeakSet[AsyncEngine] = weakref.WeakSet()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pools = [engine.pool for engine in self.engines if isinstance(engine.pool, QueuePool)]
        for name, (documentation, read) in _POOL_READINGS.items():
            yield GaugeMetricFamily(name, documentation, value=sum(read(pool) for pool in pools))


_POOLS = _PoolCollector()
REGISTRY.register(_POOLS)


def watch_pool(engine: AsyncEngine) -> None:
    """Report ``engine``'s pool in the ``quoin_db_pool_*`` gauges."""
    _POOLS.engines.add(engine)
