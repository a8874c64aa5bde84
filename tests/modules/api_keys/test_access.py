"""Who may use and manage a key: only its owner; a deactivated owner's keys stop at once."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.modules.api_keys.expectations import API_KEYS, key_of
from tests.support.expectations import World
from tests.support.helpers import USERS, assert_problem, make_account


async def test_another_users_key_cannot_be_revoked_and_keeps_working(client: httpx.AsyncClient, world: World) -> None:
    mallory = await make_account(client)

    response = await client.delete(f"{API_KEYS}{world.owned['key_id']}", headers=mallory.headers)

    assert_problem(response, 404, detail="API key not found")
    keys = (await client.get(API_KEYS, headers=world.victim.headers)).json()
    assert [k["id"] for k in keys["items"]] == [world.owned["key_id"]]


async def test_a_user_lists_only_its_own_keys(client: httpx.AsyncClient, world: World) -> None:
    mallory = await make_account(client)

    page = (await client.get(API_KEYS, headers=mallory.headers)).json()

    assert (page["items"], page["total"]) == ([], 0)


async def test_deactivating_a_user_stops_its_tokens_and_keys_at_once(
    client: httpx.AsyncClient, db: AsyncConnection, world: World
) -> None:
    admin = await make_account(client, db, superuser=True)
    _, key = await key_of(client, world.victim)
    assert (await client.get(f"{USERS}me", headers={"X-API-Key": key})).status_code == 200

    deactivated = await client.patch(world.victim.path, json={"is_active": False}, headers=admin.headers)

    assert deactivated.status_code == 200
    assert_problem(await client.get(f"{USERS}me", headers=world.victim.headers), 401)
    assert_problem(await client.get(f"{USERS}me", headers={"X-API-Key": key}), 401)
    reactivated = await client.patch(world.victim.path, json={"is_active": True}, headers=admin.headers)
    assert reactivated.status_code == 200
    assert (await client.get(f"{USERS}me", headers=world.victim.headers)).status_code == 200
