"""API keys: issued once, stored as a keyed hash, acting as their owner until revoked or expired."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.modules.api_keys.expectations import API_KEYS
from tests.support.documentation import documented_examples, same_shape
from tests.support.helpers import PRODUCTION, USERS, Account, assert_problem, make_account, running_app
from tests.support.settings import make_settings

KEY_SHAPE = re.compile(r"qk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")
LISTED_FIELDS = {"id", "name", "prefix", "created_at", "expires_at", "last_used_at"}


@pytest.fixture
async def owner(client: httpx.AsyncClient) -> Account:
    return await make_account(client)


async def create_key(client: httpx.AsyncClient, owner: Account, **body: object) -> dict[str, object]:
    response = await client.post(API_KEYS, json={"name": "deployer", **body}, headers=owner.headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_a_new_key_is_shown_once_with_its_metadata(client: httpx.AsyncClient, owner: Account) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()

    created = await create_key(client, owner, expires_at=expires)

    assert set(created) == LISTED_FIELDS | {"key"}
    assert KEY_SHAPE.fullmatch(str(created["key"]))
    assert str(created["key"]).startswith(f"{created['prefix']}_")
    assert created["name"] == "deployer"
    assert created["last_used_at"] is None
    assert datetime.fromisoformat(str(created["expires_at"])) == datetime.fromisoformat(expires)


async def test_only_a_keyed_hash_of_the_key_is_stored(
    client: httpx.AsyncClient, db: AsyncConnection, owner: Account
) -> None:
    created = await create_key(client, owner)
    key = str(created["key"])

    row = (await db.execute(text("SELECT * FROM api_keys WHERE id = :id"), {"id": created["id"]})).mappings().one()

    assert all(key not in str(value) for value in row.values())
    assert re.fullmatch(r"[0-9a-f]{64}", row["key_hash"])


async def test_listing_never_shows_the_key_and_is_newest_first(client: httpx.AsyncClient, owner: Account) -> None:
    first = await create_key(client, owner, name="first")
    second = await create_key(client, owner, name="second")

    page = (await client.get(API_KEYS, headers=owner.headers)).json()

    assert (page["total"], page["limit"], page["offset"]) == (2, 20, 0)
    assert [k["id"] for k in page["items"]] == [second["id"], first["id"]]
    assert all(set(k) == LISTED_FIELDS for k in page["items"])


async def test_the_key_authenticates_as_its_owner(client: httpx.AsyncClient, owner: Account) -> None:
    created = await create_key(client, owner)

    response = await client.get(f"{USERS}me", headers={"X-API-Key": str(created["key"])})

    assert response.status_code == 200
    assert response.json() == owner.user


@pytest.mark.parametrize("padding", [" ", "\t", " \t "])
async def test_the_key_is_accepted_with_surrounding_whitespace_like_a_token(
    client: httpx.AsyncClient, owner: Account, padding: str
) -> None:
    key = str((await create_key(client, owner))["key"])

    by_key = await client.get(f"{USERS}me", headers={"X-API-Key": f"{padding}{key}{padding}"})
    by_token = await client.get(
        f"{USERS}me", headers={"Authorization": f"{padding}{owner.headers['Authorization']}{padding}"}
    )

    assert (by_key.status_code, by_token.status_code) == (200, 200)
    assert by_key.json() == owner.user


async def test_last_used_at_is_recorded_but_refreshed_at_most_once_a_minute(
    client: httpx.AsyncClient, db: AsyncConnection, owner: Account
) -> None:
    created = await create_key(client, owner)
    headers = {"X-API-Key": str(created["key"])}
    query = text("SELECT last_used_at FROM api_keys WHERE id = :id")

    await client.get(f"{USERS}me", headers=headers)
    first_use = (await db.execute(query, {"id": created["id"]})).scalar()
    await client.get(f"{USERS}me", headers=headers)
    second_use = (await db.execute(query, {"id": created["id"]})).scalar()
    await db.execute(
        text("UPDATE api_keys SET last_used_at = last_used_at - interval '2 minutes' WHERE id = :id"),
        {"id": created["id"]},
    )
    await client.get(f"{USERS}me", headers=headers)
    third_use = (await db.execute(query, {"id": created["id"]})).scalar()

    assert first_use is not None
    assert second_use == first_use
    # Pushed two minutes into the past, the stamp is stale and the third use refreshes it.
    assert third_use >= first_use
    listed = (await client.get(API_KEYS, headers=owner.headers)).json()["items"][0]
    assert listed["last_used_at"] is not None


async def test_a_revoked_key_is_refused_at_once_and_disappears(client: httpx.AsyncClient, owner: Account) -> None:
    created = await create_key(client, owner)
    headers = {"X-API-Key": str(created["key"])}
    assert (await client.get(f"{USERS}me", headers=headers)).status_code == 200

    revoked = await client.delete(f"{API_KEYS}{created['id']}", headers=owner.headers)

    assert revoked.status_code == 204
    assert_problem(await client.get(f"{USERS}me", headers=headers), 401, detail="Invalid, expired or revoked API key")
    assert (await client.get(API_KEYS, headers=owner.headers)).json()["total"] == 0
    assert_problem(await client.delete(f"{API_KEYS}{created['id']}", headers=owner.headers), 404)


async def test_an_expiry_beyond_the_calendar_is_kept_as_the_latest_instant(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await create_key(client, owner, expires_at="9999-12-31T23:59:59-05:00")

    assert created["expires_at"] == "9999-12-31T23:59:59.999999Z"
    assert (await client.get(f"{USERS}me", headers={"X-API-Key": str(created["key"])})).status_code == 200


async def test_a_key_can_revoke_itself(client: httpx.AsyncClient, owner: Account) -> None:
    created = await create_key(client, owner)
    headers = {"X-API-Key": str(created["key"])}

    assert (await client.delete(f"{API_KEYS}{created['id']}", headers=headers)).status_code == 204
    assert_problem(await client.get(API_KEYS, headers=headers), 401)


async def test_a_key_past_its_expiry_is_refused(client: httpx.AsyncClient, db: AsyncConnection, owner: Account) -> None:
    created = await create_key(client, owner, expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    headers = {"X-API-Key": str(created["key"])}
    assert (await client.get(f"{USERS}me", headers=headers)).status_code == 200

    await db.execute(
        text("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :id"), {"id": created["id"]}
    )

    assert_problem(await client.get(f"{USERS}me", headers=headers), 401)


async def test_deleting_the_owner_deletes_its_keys(
    client: httpx.AsyncClient, db: AsyncConnection, owner: Account
) -> None:
    created = await create_key(client, owner)

    assert (await client.delete(owner.path, headers=owner.headers)).status_code == 204

    remaining = (await db.execute(text("SELECT count(*) FROM api_keys WHERE id = :id"), {"id": created["id"]})).scalar()
    assert remaining == 0
    assert_problem(await client.get(f"{USERS}me", headers={"X-API-Key": str(created["key"])}), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "n" * 101}, "name"),
        ({"name": "bad\nname"}, "name"),
        ({"name": "k", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"name": "k", "expires_at": "next tuesday"}, "expires_at"),
        ({"name": "k", "expires_at": 1900000000}, "expires_at"),
        ({"name": 7}, "name"),
        ({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "k", "expires_at": "0001-01-01T00:00:00+05:00"}, "expires_at"),
        ({"name": "k", "key": "qk_chosen_by_me"}, "key"),
        ({"name": "k", "user_id": "01a21a94-faaa-77c8-96af-5f45fa57e9f4"}, "user_id"),
    ],
)
async def test_an_invalid_key_request_is_422_and_creates_nothing(
    client: httpx.AsyncClient, owner: Account, body: dict[str, object], field: str
) -> None:
    problem = assert_problem(await client.post(API_KEYS, json=body, headers=owner.headers), 422)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert (await client.get(API_KEYS, headers=owner.headers)).json()["total"] == 0


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"offset": "-1"}])
async def test_listing_keys_with_out_of_range_paging_is_422(
    client: httpx.AsyncClient, owner: Account, params: dict[str, str]
) -> None:
    assert_problem(await client.get(API_KEYS, params=params, headers=owner.headers), 422)


async def test_browsers_may_send_the_key_header_cross_origin(database_url: URL) -> None:
    settings = make_settings(database_url, **PRODUCTION, CORS_ALLOW_ORIGINS="https://app.example.com")
    preflight = {
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "X-API-Key",
    }
    async with running_app(settings) as (_, client):
        answer = await client.options(API_KEYS, headers=preflight)

    assert answer.status_code == 204
    assert "x-api-key" in answer.headers["access-control-allow-headers"].lower()


async def test_the_documented_example_creates_a_key_shaped_as_documented(
    client: httpx.AsyncClient, owner: Account
) -> None:
    request_example, created_example = await documented_examples(client, API_KEYS.rstrip("/"), "post")

    created = await client.post(API_KEYS, json=request_example, headers=owner.headers)

    assert created.status_code == 201, created.text
    assert same_shape(created_example, created.json())
    assert KEY_SHAPE.fullmatch(created_example["key"])
    assert created_example["key"].startswith(created_example["prefix"])
    assert created.json()["expires_at"] == request_example["expires_at"]
