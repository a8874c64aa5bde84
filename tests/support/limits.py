"""Apps with tight rate limits, and clients that call them from an address of the test's choosing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from litestar import Litestar
from sqlalchemy.engine import URL

from quoin.app import create_app
from quoin.config import Settings
from tests.support.settings import make_settings

__all__ = ["app_for", "client_of", "limited", "two_instances_from"]


@asynccontextmanager
async def app_for(settings: Settings) -> AsyncIterator[Litestar]:
    """An app built from ``settings``, started; stopped afterwards."""
    application = create_app(settings)
    async with LifespanManager(application):  # type: ignore[arg-type]
        yield application


@asynccontextmanager
async def two_instances_from(settings: Settings, ip: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two apps built from ``settings``, started, and a client of each whose requests come from ``ip``."""
    async with (
        app_for(settings) as first,
        app_for(settings) as second,
        client_of(first, ip) as via_first,
        client_of(second, ip) as via_second,
    ):
        yield via_first, via_second


def client_of(application: Litestar, ip: str = "198.51.100.7") -> httpx.AsyncClient:
    """A client whose requests come from ``ip`` (as uvicorn reports it after resolving trusted proxies)."""
    transport = httpx.ASGITransport(app=application, client=(ip, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def limited(database_url: URL, **overrides: str) -> Settings:
    """Settings with limits of 3 a minute (general and login), unless ``overrides`` say otherwise."""
    return make_settings(
        database_url, **{"RATE_LIMIT_PER_MINUTE": "3", "LOGIN_RATE_LIMIT_PER_MINUTE": "3", **overrides}
    )
