"""Two instances of the app on one database, as two containers would be: separate pools and listeners."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tests.support.helpers import USERS, driver_statements, engine_of, sqlalchemy_statements
from tests.support.limits import app_for, client_of
from tests.support.settings import make_settings

__all__ = ["Instance", "answers_from_memory", "kill_listeners", "refused_after", "two_instances"]


@dataclass(frozen=True)
class Instance:
    """A running app and a client of it."""

    app: Litestar
    client: httpx.AsyncClient


@asynccontextmanager
async def two_instances(database_url: URL) -> AsyncIterator[tuple[Instance, Instance, AsyncEngine]]:
    """Instances A and B, started, and an engine of the test's own on their database (autocommit)."""
    async with AsyncExitStack() as stack:
        instances = []
        for _ in range(2):
            application = await stack.enter_async_context(app_for(make_settings(database_url)))
            instances.append(Instance(application, await stack.enter_async_context(client_of(application))))
        engine = create_async_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        stack.push_async_callback(engine.dispose)
        yield instances[0], instances[1], engine


async def refused_after(request: Callable[[], Awaitable[httpx.Response]], *, give_up: float = 2.0) -> float:
    """Seconds until ``request`` is answered 401 (polling every 2 ms); fails past ``give_up`` seconds."""
    start = time.monotonic()
    while (answer := await request()).status_code != 401:
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - start < give_up, "the change never reached this instance"
        await asyncio.sleep(0.002)
    return time.monotonic() - start


async def kill_listeners(engine: AsyncEngine) -> int:
    """Terminate every instance's change listener, waiting until each backend has exited; how many."""
    async with engine.connect() as connection:
        killed = await connection.scalar(
            text(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE application_name = 'quoin-changes' AND datname = current_database()"
            )
        )
    return int(killed or 0)


async def answers_from_memory(instance: Instance, headers: dict[str, str]) -> None:
    """Ask ``/me`` twice with ``headers``: the second answer must come from the instance's memory, no statement run."""
    engine = engine_of(instance.app)
    assert (await instance.client.get(f"{USERS}me", headers=headers)).status_code == 200
    with sqlalchemy_statements(engine) as by_sqlalchemy:
        async with driver_statements(engine) as on_the_driver:
            again = await instance.client.get(f"{USERS}me", headers=headers)
    assert again.status_code == 200
    assert (by_sqlalchemy, on_the_driver) == ([], [])
