"""The benchmark's own Redis: the app's rate-limit counters live there, as in production."""

from __future__ import annotations

from tests.support.redis_server import PrivateRedis, find_redis_server

from bench.packages import ensure_program

__all__ = ["ensure_redis_server", "start_redis"]


def ensure_redis_server() -> str:
    """The ``redis-server`` binary the test suite would use; installs Debian's package when missing, as root."""
    return ensure_program("redis-server", find_redis_server)


def start_redis() -> PrivateRedis:
    """A private server (the test suite's): 127.0.0.1, a free port, a temporary folder, nothing persisted."""
    ensure_redis_server()
    server = PrivateRedis()
    try:
        server.start()
    except BaseException:
        server.remove()
        raise
    return server
