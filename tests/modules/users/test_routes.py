"""The users contract, end to end through HTTP on a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.helpers import PASSWORD, USERS, assert_problem, count_users, sign_up, unique_email

PUBLIC_FIELDS = {"id", "email", "full_name", "is_active", "is_superuser", "created_at", "updated_at"}


def parse_timestamp(value: str) -> datetime:
    assert value.endswith("Z"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None
    return parsed


# --- create -------------------------------------------------------------------------------


async def test_sign_up_answers_201_with_the_public_user_and_its_location(
    client: httpx.AsyncClient, db: AsyncConnection
) -> None:
    response = await client.post(
        USERS, json={"email": "  Ada.L@Example.COM ", "password": PASSWORD, "full_name": "Ada"}
    )

    assert response.status_code == 201
    user = response.json()
    assert set(user) == PUBLIC_FIELDS
    assert user["email"] == "ada.l@example.com"
    assert user["full_name"] == "Ada"
    assert user["is_active"] is True
    assert user["is_superuser"] is False
    assert uuid.UUID(user["id"]).version == 7
    assert parse_timestamp(user["created_at"]) <= parse_timestamp(user["updated_at"])
    assert response.headers["location"] == f"/api/v1/users/{user['id']}"
    assert response.headers["content-type"] == "application/json"


async def test_sign_up_stores_only_an_argon2id_hash_of_the_password(
    client: httpx.AsyncClient, db: AsyncConnection
) -> None:
    user = await sign_up(client)

    row = (await db.execute(text("SELECT hashed_password FROM users WHERE id = :id"), {"id": user["id"]})).one()
    assert row.hashed_password.startswith("$argon2id$")
    assert PASSWORD not in row.hashed_password


async def test_routes_answer_the_same_with_and_without_trailing_slash(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/users", json={"email": unique_email(), "password": PASSWORD})
    assert created.status_code == 201
    user_id = created.json()["id"]

    with_slash = await client.get(f"/api/v1/users/{user_id}/")
    without_slash = await client.get(f"/api/v1/users/{user_id}")
    listed = await client.get("/api/v1/users")

    assert with_slash.status_code == without_slash.status_code == listed.status_code == 200
    assert with_slash.json() == without_slash.json() == created.json()


async def test_emails_differing_only_in_case_are_the_same_user(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    await sign_up(client, "Grace@Example.com")

    response = await client.post(USERS, json={"email": "grace@EXAMPLE.com", "password": PASSWORD})

    assert_problem(response, 409, detail="Email already registered")
    assert await count_users(db, "grace@example.com") == 1


@pytest.mark.parametrize("field", ["is_superuser", "is_active", "id", "hashed_password"])
async def test_sign_up_with_a_field_outside_the_contract_is_422(
    client: httpx.AsyncClient, db: AsyncConnection, field: str
) -> None:
    body = {"email": unique_email(), "password": PASSWORD, field: True}

    problem = assert_problem(await client.post(USERS, json=body), 422)

    assert problem["errors"] == [{"field": field, "message": f"Object contains unknown field `{field}`"}]
    assert await count_users(db) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "no-at-sign.example.com", "password": PASSWORD}, "email"),
        ({"email": "two@@example.com", "password": PASSWORD}, "email"),
        ({"email": "a@localhost", "password": PASSWORD}, "email"),
        ({"email": "x" * 250 + "@example.com", "password": PASSWORD}, "email"),
        ({"email": 42, "password": PASSWORD}, "email"),
        ({"email": "short@example.com", "password": "1234567"}, "password"),
        ({"email": "long@example.com", "password": "p" * 129}, "password"),
        ({"email": "nopw@example.com"}, "password"),
        ({"email": "name@example.com", "password": PASSWORD, "full_name": "n" * 256}, "full_name"),
        ({"email": "name@example.com", "password": PASSWORD, "full_name": ""}, "full_name"),
        ({"email": "nul@example.com", "password": PASSWORD, "full_name": "Ada\u0000Lovelace"}, "full_name"),
        ({"email": "tab@example.com", "password": PASSWORD, "full_name": "Ada\tLovelace"}, "full_name"),
    ],
)
async def test_sign_up_with_invalid_fields_is_422_naming_the_field(
    client: httpx.AsyncClient, db: AsyncConnection, body: dict[str, object], field: str
) -> None:
    problem = assert_problem(await client.post(USERS, json=body), 422)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert problem["errors"][0]["message"]
    assert await count_users(db) == 0


async def test_password_of_exactly_8_and_128_characters_is_accepted(client: httpx.AsyncClient) -> None:
    await sign_up(client, password="p" * 8)
    await sign_up(client, password="p" * 128)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"email": "a@example.com", "password": ', "application/json"),
        (b"not json at all", "application/json"),
        (b"email=a%40example.com&password=secretsecret", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
)
async def test_a_body_that_is_not_json_is_400(
    client: httpx.AsyncClient, db: AsyncConnection, content: bytes, content_type: str
) -> None:
    response = await client.post(USERS, content=content, headers={"content-type": content_type})

    assert_problem(response, 400, detail="The request body is not valid JSON")
    assert await count_users(db) == 0


async def test_a_json_body_that_is_not_an_object_is_422(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    problem = assert_problem(await client.post(USERS, json=["a@example.com", PASSWORD]), 422)

    assert problem["errors"][0]["field"] == "body"
    assert await count_users(db) == 0


async def test_a_body_over_the_size_limit_is_413(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    body = b'{"email": "big@example.com", "password": "' + b"p" * 2_000_000 + b'"}'

    response = await client.post(USERS, content=body, headers={"content-type": "application/json"})

    assert_problem(response, 413)
    assert await count_users(db) == 0


# --- read ---------------------------------------------------------------------------------


async def test_get_returns_the_user(client: httpx.AsyncClient) -> None:
    user = await sign_up(client, full_name="Katherine Johnson")

    response = await client.get(f"{USERS}{user['id']}")

    assert response.status_code == 200
    assert response.json() == user


async def test_get_of_an_unknown_id_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{USERS}{uuid.uuid4()}")

    assert_problem(response, 404, detail="User not found")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "0192c3c4-zzzz-7000-8000-000000000000", "%00"])
async def test_a_malformed_id_in_the_path_is_404(client: httpx.AsyncClient, bad_id: str) -> None:
    assert_problem(await client.get(f"{USERS}{bad_id}"), 404)


# --- list ---------------------------------------------------------------------------------


async def test_list_returns_a_page_object_newest_first_by_default(client: httpx.AsyncClient) -> None:
    first = await sign_up(client)
    second = await sign_up(client)

    response = await client.get(USERS)

    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert (page["total"], page["limit"], page["offset"]) == (2, 20, 0)
    assert [u["id"] for u in page["items"]] == [second["id"], first["id"]]
    assert all(set(item) == PUBLIC_FIELDS for item in page["items"])


async def test_limit_and_offset_page_through_every_user_once(client: httpx.AsyncClient) -> None:
    created = {(await sign_up(client))["id"] for _ in range(5)}

    seen: list[str] = []
    for offset in range(0, 6, 2):
        page = (await client.get(USERS, params={"limit": 2, "offset": offset})).json()
        assert (page["total"], page["limit"], page["offset"]) == (5, 2, offset)
        seen += [u["id"] for u in page["items"]]

    assert len(seen) == 5
    assert set(seen) == created


async def test_list_filters_by_exact_email_case_insensitively(client: httpx.AsyncClient) -> None:
    wanted = await sign_up(client, "Exact.Match@example.com")
    await sign_up(client, "exact.match.not@example.com")

    page = (await client.get(USERS, params={"email": " EXACT.match@Example.com"})).json()

    assert page["total"] == 1
    assert [u["id"] for u in page["items"]] == [wanted["id"]]


async def test_list_search_matches_a_substring_of_the_email_literally(client: httpx.AsyncClient) -> None:
    underscore = await sign_up(client, "first_last@example.com")
    await sign_up(client, "firstXlast@example.com")

    page = (await client.get(USERS, params={"search": "ST_LA"})).json()

    assert [u["id"] for u in page["items"]] == [underscore["id"]]
    assert (await client.get(USERS, params={"search": "%"})).json()["total"] == 0


async def test_list_filters_by_is_active(client: httpx.AsyncClient) -> None:
    active = await sign_up(client)
    inactive = await sign_up(client)
    assert (await client.patch(f"{USERS}{inactive['id']}", json={"is_active": False})).status_code == 200

    only_active = (await client.get(USERS, params={"is_active": "true"})).json()
    only_inactive = (await client.get(USERS, params={"is_active": "false"})).json()

    assert [u["id"] for u in only_active["items"]] == [active["id"]]
    assert [u["id"] for u in only_inactive["items"]] == [inactive["id"]]


async def test_list_orders_by_email_ascending_by_default_and_descending_on_request(client: httpx.AsyncClient) -> None:
    for name in ("bravo", "alpha", "charlie"):
        await sign_up(client, f"{name}@example.com")

    ascending = (await client.get(USERS, params={"order_by": "email"})).json()
    descending = (await client.get(USERS, params={"order_by": "email", "sort": "desc"})).json()
    oldest_first = (await client.get(USERS, params={"order_by": "created_at", "sort": "asc"})).json()

    assert [u["email"] for u in ascending["items"]] == ["alpha@example.com", "bravo@example.com", "charlie@example.com"]
    assert [u["email"] for u in descending["items"]] == [
        "charlie@example.com",
        "bravo@example.com",
        "alpha@example.com",
    ]
    assert [u["email"] for u in oldest_first["items"]] == [
        "bravo@example.com",
        "alpha@example.com",
        "charlie@example.com",
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "1000"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "99999999999999999999"}, "offset"),
        ({"order_by": "hashed_password"}, "order_by"),
        ({"order_by": "sa_orm_sentinel"}, "order_by"),
        ({"sort": "sideways"}, "sort"),
        ({"is_active": "maybe"}, "is_active"),
        ({"search": ""}, "search"),
        ({"email": "e" * 300}, "email"),
    ],
)
async def test_list_with_an_out_of_range_query_parameter_is_422(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    problem = assert_problem(await client.get(USERS, params=params), 422)

    assert [error["field"] for error in problem["errors"]] == [field]


async def test_limit_of_1_and_100_are_accepted(client: httpx.AsyncClient) -> None:
    assert (await client.get(USERS, params={"limit": 1})).json()["limit"] == 1
    assert (await client.get(USERS, params={"limit": 100})).json()["limit"] == 100


# --- update -------------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_sent_and_moves_updated_at(client: httpx.AsyncClient) -> None:
    user = await sign_up(client, full_name="Before")

    response = await client.patch(f"{USERS}{user['id']}", json={"full_name": "After"})

    assert response.status_code == 200
    updated = response.json()
    assert updated["full_name"] == "After"
    assert {k: v for k, v in updated.items() if k not in {"full_name", "updated_at"}} == {
        k: v for k, v in user.items() if k not in {"full_name", "updated_at"}
    }
    assert parse_timestamp(updated["updated_at"]) > parse_timestamp(user["updated_at"])
    assert (await client.get(f"{USERS}{user['id']}")).json() == updated


async def test_patch_with_null_full_name_clears_it(client: httpx.AsyncClient) -> None:
    user = await sign_up(client, full_name="Someone")

    response = await client.patch(f"{USERS}{user['id']}", json={"full_name": None})

    assert response.status_code == 200
    assert response.json()["full_name"] is None


async def test_patch_with_an_empty_body_changes_nothing(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.patch(f"{USERS}{user['id']}", json={})

    assert response.status_code == 200
    assert response.json() == user


async def test_patch_email_is_normalised(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.patch(f"{USERS}{user['id']}", json={"email": " New.Address@Example.com"})

    assert response.json()["email"] == "new.address@example.com"


async def test_patch_to_an_email_another_user_has_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    taken = await sign_up(client)
    user = await sign_up(client)

    response = await client.patch(f"{USERS}{user['id']}", json={"email": taken["email"].upper()})

    assert_problem(response, 409, detail="Email already registered")
    assert (await client.get(f"{USERS}{user['id']}")).json() == user


async def test_patch_password_replaces_the_stored_hash(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    user = await sign_up(client)
    query = text("SELECT hashed_password FROM users WHERE id = :id")
    before = (await db.execute(query, {"id": user["id"]})).scalar_one()

    response = await client.patch(f"{USERS}{user['id']}", json={"password": "a brand new secret"})

    after = (await db.execute(query, {"id": user["id"]})).scalar_one()
    assert response.status_code == 200
    assert "password" not in response.json()
    assert after != before
    assert after.startswith("$argon2id$")


async def test_patch_flags(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.patch(f"{USERS}{user['id']}", json={"is_active": False, "is_superuser": True})

    assert (response.json()["is_active"], response.json()["is_superuser"]) == (False, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"full_name": "x" * 256}, "full_name"),
        ({"is_active": "yes"}, "is_active"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"hashed_password": "$argon2id$forged"}, "hashed_password"),
    ],
)
async def test_patch_with_invalid_or_unknown_fields_is_422_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    user = await sign_up(client)

    problem = assert_problem(await client.patch(f"{USERS}{user['id']}", json=body), 422)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert (await client.get(f"{USERS}{user['id']}")).json() == user


async def test_patch_of_an_unknown_user_is_404(client: httpx.AsyncClient) -> None:
    response = await client.patch(f"{USERS}{uuid.uuid4()}", json={"full_name": "Nobody"})

    assert_problem(response, 404, detail="User not found")


async def test_patch_with_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.patch(f"{USERS}{user['id']}", content=b"{", headers={"content-type": "application/json"})

    assert_problem(response, 400)


# --- delete -------------------------------------------------------------------------------


async def test_delete_answers_204_then_every_call_for_that_user_is_404(
    client: httpx.AsyncClient, db: AsyncConnection
) -> None:
    user = await sign_up(client)
    path = f"{USERS}{user['id']}"

    response = await client.delete(path)

    assert response.status_code == 204
    assert response.content == b""
    assert await count_users(db, user["email"]) == 0
    assert_problem(await client.get(path), 404)
    assert_problem(await client.patch(path, json={"full_name": "Ghost"}), 404)
    assert_problem(await client.delete(path), 404)


async def test_a_deleted_users_email_can_sign_up_again(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    await client.delete(f"{USERS}{user['id']}")

    again = await sign_up(client, user["email"])

    assert again["id"] != user["id"]


# --- routing ------------------------------------------------------------------------------


async def test_an_unsupported_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put(USERS, json={})

    assert_problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_an_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404)
