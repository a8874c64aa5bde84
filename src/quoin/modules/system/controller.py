"""Liveness and readiness probes, and the HTML landing page."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from quoin import __version__
from quoin.config import Settings
from quoin.core.errors import ServiceUnavailableError
from quoin.core.http.openapi import problem_responses
from quoin.core.http.routes import PUBLIC
from quoin.core.ratelimit.counters import CounterStoreError
from quoin.core.ratelimit.limiter import RateLimiter
from quoin.core.runtime.drain import DRAINING

__all__ = ["HealthController", "landing_page"]


class HealthStatus(msgspec.Struct):
    """A probe's answer."""

    status: Annotated[str, msgspec.Meta(examples=["ok"])]


RedisState = Literal["ok", "unavailable", "off"]


class Readiness(HealthStatus):
    """The readiness probe's answer."""

    redis: Annotated[
        RedisState,
        msgspec.Meta(
            description="Whether Redis (shared rate-limit counters) answers; `off` without `REDIS_URL`. "
            "Informational: limits fail open without Redis, so it never makes the instance unready."
        ),
    ]


class HealthController(Controller):
    """Probes for load balancers and orchestrators."""

    path = "/health"
    tags = ["health"]  # noqa: RUF012  # Litestar reads these as class attributes
    opt = PUBLIC

    @get("/live", operation_id="Liveness", summary="Liveness probe", sync_to_thread=False)
    def live(self) -> HealthStatus:
        """The process is up. Touches no dependency, so a database outage never restarts instances."""
        return HealthStatus(status="ok")

    @get("/ready", operation_id="Readiness", summary="Readiness probe", responses=problem_responses(503))
    async def ready(
        self,
        db_engine: NamedDependency[AsyncEngine],
        rate_limiter: NamedDependency[RateLimiter],
        settings: NamedDependency[Settings],
    ) -> Readiness:
        """The instance can serve traffic: not draining, and the database answers.

        Redis is reported, not required: rate limits fail open without it, so a
        Redis outage must not take every instance out of the balancer at once.
        """
        if DRAINING.is_set():
            raise ServiceUnavailableError("The instance is shutting down")
        timeout = settings.db.health_db_timeout
        try:
            async with asyncio.timeout(timeout), db_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure to answer means "not ready"
            raise ServiceUnavailableError("The database is not answering") from exc
        redis: RedisState = "off"
        if settings.rate_limit.redis_url:
            try:
                async with asyncio.timeout(timeout):
                    await rate_limiter.counter.ping()
                redis = "ok"
            except (CounterStoreError, OSError, TimeoutError):
                redis = "unavailable"
        return Readiness(status="ok", redis=redis)


@get("/", include_in_schema=False, sync_to_thread=False, opt=PUBLIC)
def landing_page() -> Template:
    """A short HTML page that points people at the docs."""
    return Template(template_name="index.html.j2", context={"version": __version__})
