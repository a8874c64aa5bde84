"""What the API-keys feature expects of the shared checks, and the helpers its tests share.

Its operations and their errors, the key operations every bad credential
must be refused on, and the ways a key can be wrong, which every protected
operation of every feature must refuse.
"""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.expectations import Expectations, World
from tests.support.helpers import Account, make_account

API_KEYS = "/api/v1/api-keys/"


async def key_of(client: httpx.AsyncClient, account: Account) -> tuple[str, str]:
    """A new key of ``account``: its id and the key itself."""
    created = (await client.post(API_KEYS, json={"name": "k"}, headers=account.headers)).json()
    return created["id"], created["key"]


async def revoked_key(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    admin = await make_account(client, db, superuser=True)
    key_id, key = await key_of(client, admin)
    assert (await client.delete(f"{API_KEYS}{key_id}", headers=admin.headers)).status_code == 204
    return {"X-API-Key": key}


async def expired_key(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    admin = await make_account(client, db, superuser=True)
    key_id, key = await key_of(client, admin)
    await db.execute(
        text("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :id"), {"id": key_id}
    )
    return {"X-API-Key": key}


async def key_of_a_deactivated_user(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict:
    admin = await make_account(client, db, superuser=True)
    _, key = await key_of(client, admin)
    await db.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": admin.id})
    return {"X-API-Key": key}


async def garbage_key(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    return {"X-API-Key": "qk_000000000000_" + "A" * 43}


async def tampered_key(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    admin = await make_account(client, db, superuser=True)
    _, key = await key_of(client, admin)
    return {"X-API-Key": key[:-1] + ("B" if key[-1] != "B" else "C")}


async def _give_victim(client: httpx.AsyncClient, victim: Account) -> dict[str, str]:
    created = await client.post(API_KEYS, json={"name": "victim key"}, headers=victim.headers)
    return {"key_id": created.json()["id"]}


async def _assert_victim_unchanged(client: httpx.AsyncClient, world: World) -> None:
    keys = (await client.get(API_KEYS, headers=world.victim.headers)).json()
    assert [k["id"] for k in keys["items"]] == [world.owned["key_id"]]


EXPECTATIONS = Expectations(
    documented_errors={
        ("/api/v1/api-keys", "post"): frozenset({"400", "401", "413", "415", "422", "429", "500", "503"}),
        ("/api/v1/api-keys", "get"): frozenset({"401", "422", "429", "500", "503"}),
        ("/api/v1/api-keys/{key_id}", "delete"): frozenset({"401", "404", "429", "500", "503"}),
    },
    protected={
        "create key": lambda world: ("POST", API_KEYS, {"name": "stolen"}),
        "list keys": lambda world: ("GET", API_KEYS, None),
        "revoke key": lambda world: ("DELETE", f"{API_KEYS}{world.owned['key_id']}", None),
    },
    bad_credentials=[revoked_key, expired_key, key_of_a_deactivated_user, garbage_key, tampered_key],
    give_victim=_give_victim,
    assert_victim_unchanged=_assert_victim_unchanged,
)
