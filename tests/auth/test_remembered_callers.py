"""Callers remembered per instance: no query for a known caller, and every change seen at once everywhere."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from structlog.testing import capture_logs

from quoin.db.changes import CHANGES_STATE_KEY, ChangeFeed
from tests.support.helpers import USERS, engine_of, login, sign_up, sqlalchemy_statements, unique_email
from tests.support.instances import Instance, answers_from_memory, kill_listeners, refused_after, two_instances

ME = f"{USERS}me"


async def _account(instance: Instance) -> tuple[dict[str, object], dict[str, str]]:
    user = await sign_up(instance.client, unique_email("remembered"))
    return user, await login(instance.client, str(user["email"]))


async def test_a_known_caller_costs_no_query(own_database: URL) -> None:
    async with two_instances(own_database) as (a, _b, _engine):
        user, headers = await _account(a)
        assert (await a.client.get(ME, headers=headers)).status_code == 200  # now known

        with sqlalchemy_statements(engine_of(a.app)) as statements:
            me = await a.client.get(ME, headers=headers)
            by_id = await a.client.get(f"{USERS}{user['id']}", headers=headers)

    assert me.status_code == 200
    assert by_id.json() == me.json()
    assert len(statements) == 1, [
        s.statement for s in statements
    ]  # the handler's own read; the caller came from memory


@pytest.mark.parametrize("change", ["deactivate", "delete"])
async def test_a_change_on_one_instance_is_refused_by_the_other_within_100_ms(own_database: URL, change: str) -> None:
    async with two_instances(own_database) as (a, b, engine):
        user, headers = await _account(a)
        admin, _ = await _account(a)
        async with engine.connect() as connection:
            await connection.execute(text("UPDATE users SET is_superuser = true WHERE id = :id"), {"id": admin["id"]})
        admin_headers = await login(a.client, str(admin["email"]))
        await answers_from_memory(b, headers)  # B knows the caller

        if change == "deactivate":
            done = await a.client.patch(f"{USERS}{user['id']}", json={"is_active": False}, headers=admin_headers)
        else:
            done = await a.client.delete(f"{USERS}{user['id']}", headers=admin_headers)
        assert done.status_code in {200, 204}, done.text
        on_a = await a.client.get(ME, headers=headers)
        delay = await refused_after(lambda: b.client.get(ME, headers=headers))

    print(f"\n{change} on A refused by B after {delay * 1000:.1f} ms")
    assert on_a.status_code == 401  # the instance that made the change: at once
    assert delay < 0.1


async def test_a_killed_listener_never_lets_a_stale_caller_through(own_database: URL) -> None:
    async with two_instances(own_database) as (a, b, engine):
        user, headers = await _account(a)
        await answers_from_memory(b, headers)  # B knows the caller

        with capture_logs() as logs:
            assert await kill_listeners(engine) == 2
            async with engine.connect() as connection:  # a change nobody hears of
                await connection.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": user["id"]})
            right_after = await b.client.get(ME, headers=headers)

            async with engine.connect() as connection:
                await connection.execute(text("UPDATE users SET is_active = true WHERE id = :id"), {"id": user["id"]})
            for instance in (a, b):
                await _until_listening_again(instance)
        await answers_from_memory(b, headers)  # known again
        async with engine.connect() as connection:
            await connection.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": user["id"]})
        delay = await refused_after(lambda: b.client.get(ME, headers=headers))

    assert right_after.status_code == 401
    assert delay < 0.1
    # One line per instance for the loss and for the recovery, whatever the retries in between.
    assert sorted(e["event"] for e in logs if e["event"].startswith("change_feed")) == [
        "change_feed_listening",
        "change_feed_listening",
        "change_feed_lost",
        "change_feed_lost",
    ]


async def _until_listening_again(instance: Instance) -> None:
    """Wait until the instance's listener is back and proven live (it retries every second)."""
    feed: ChangeFeed = instance.app.state[CHANGES_STATE_KEY]
    for _ in range(500):
        if feed.live:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the listener did not come back within 5 s")


async def test_a_truncated_table_is_forgotten_by_every_instance(own_database: URL) -> None:
    async with two_instances(own_database) as (a, b, engine):
        _, headers = await _account(a)
        await answers_from_memory(b, headers)  # B knows the caller

        async with engine.connect() as connection:
            await connection.execute(text("TRUNCATE users CASCADE"))
        delay = await refused_after(lambda: b.client.get(ME, headers=headers))

    assert delay < 0.1
