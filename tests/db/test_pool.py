"""Concurrency beyond the pool: requests wait their turn for a connection and never hold two."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from quoin.db.pool import FairQueuePool
from tests.support.helpers import make_account, running_app, sixty_four_at_once
from tests.support.settings import make_settings


async def _use(engine: AsyncEngine, name: str, order: list[str]) -> None:
    async with engine.connect() as connection:
        order.append(name)
        await connection.execute(text("SELECT 1"))


async def test_a_returned_connection_goes_to_the_request_that_waited_not_to_a_newcomer(database_url: URL) -> None:
    engine = create_async_engine(database_url, poolclass=FairQueuePool, pool_size=1, max_overflow=0, pool_timeout=5)
    order: list[str] = []
    newcomers: list[asyncio.Task[None]] = []

    def newcomer_arrives(*_: object) -> None:
        # As the connection is checked in, before the waiter is woken: the newcomer asks first.
        if not newcomers:
            newcomers.append(asyncio.get_running_loop().create_task(_use(engine, "newcomer", order)))

    try:
        held = await engine.connect()
        await held.execute(text("SELECT 1"))
        waiting = asyncio.create_task(_use(engine, "waited", order))
        await asyncio.sleep(0.05)  # in line for the only connection
        event.listen(engine.sync_engine, "checkin", newcomer_arrives)
        await held.close()
        await asyncio.wait_for(asyncio.gather(waiting, *newcomers), timeout=10)
    finally:
        await engine.dispose()
    assert order == ["waited", "newcomer"]


async def test_a_waiter_that_times_out_leaves_the_line_and_loses_no_connection(database_url: URL) -> None:
    engine = create_async_engine(database_url, poolclass=FairQueuePool, pool_size=1, max_overflow=0, pool_timeout=0.2)
    order: list[str] = []
    try:
        held = await engine.connect()
        await held.execute(text("SELECT 1"))
        with pytest.raises(exc.TimeoutError, match="QueuePool limit"):
            await _use(engine, "timed out", order)
        await held.close()
        await asyncio.wait_for(_use(engine, "after", order), timeout=5)
        assert engine.pool.checkedin() == 1  # type: ignore[attr-defined]  # a QueuePool
    finally:
        await engine.dispose()
    assert order == ["after"]


@pytest.mark.parametrize("pool_size", [1, 2])
async def test_sixty_four_concurrent_authenticated_requests_succeed_on_a_tiny_pool(
    database_url: URL, pool_size: int
) -> None:
    # A request holding two connections at once would deadlock a pool of one until the pool timeout: 503.
    settings = make_settings(database_url, DB_POOL_SIZE=str(pool_size), DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="5")
    async with running_app(settings) as (_, client):
        account = await make_account(client)
        statuses = await sixty_four_at_once(client, account, account.headers)
    assert statuses == [200] * 64
