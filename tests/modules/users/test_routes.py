"""The users contract, end to end through HTTP on a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.documentation import documented_examples, same_shape
from tests.support.helpers import (
    PASSWORD,
    TOKEN,
    USERS,
    Account,
    assert_problem,
    count_users,
    make_account,
    sign_up,
    unique_email,
)

PUBLIC_FIELDS = {"id", "email", "full_name", "is_active", "is_superuser", "created_at", "updated_at"}


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: AsyncConnection) -> Account:
    """A superuser, created first in each test that asks for it."""
    return await make_account(client, db, superuser=True, email=unique_email("admin"))


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


async def test_routes_answer_the_same_with_and_without_trailing_slash(
    client: httpx.AsyncClient, admin: Account
) -> None:
    created = await client.post("/api/v1/users", json={"email": unique_email(), "password": PASSWORD})
    assert created.status_code == 201
    user_id = created.json()["id"]

    with_slash = await client.get(f"/api/v1/users/{user_id}/", headers=admin.headers)
    without_slash = await client.get(f"/api/v1/users/{user_id}", headers=admin.headers)
    listed = await client.get("/api/v1/users", headers=admin.headers)

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
        ({"email": "num@example.com", "password": 12345678}, "password"),
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
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
)
async def test_a_body_that_is_not_json_is_400(
    client: httpx.AsyncClient, db: AsyncConnection, content: bytes, content_type: str
) -> None:
    response = await client.post(USERS, content=content, headers={"content-type": content_type})

    assert_problem(response, 400, detail="The request body is not valid JSON")
    assert await count_users(db) == 0


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_an_empty_json_body_is_400(client: httpx.AsyncClient, db: AsyncConnection, method: str) -> None:
    account = await make_account(client)
    path = USERS if method == "POST" else account.path

    response = await client.request(
        method, path, content=b"", headers={**account.headers, "content-type": "application/json"}
    )

    assert_problem(response, 400, detail="The request body is empty; this operation needs one")
    assert await count_users(db) == 1


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


async def test_get_returns_the_user_to_itself(client: httpx.AsyncClient) -> None:
    account = await make_account(client, full_name="Katherine Johnson")

    response = await client.get(account.path, headers=account.headers)

    assert response.status_code == 200
    assert response.json() == account.user


async def test_me_returns_the_caller(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.get(f"{USERS}me", headers=account.headers)

    assert response.status_code == 200
    assert response.json() == account.user


async def test_get_of_an_unknown_id_is_404_for_a_superuser(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.get(f"{USERS}{uuid.uuid4()}", headers=admin.headers)

    assert_problem(response, 404, detail="User not found")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "0192c3c4-zzzz-7000-8000-000000000000", "%00"])
async def test_a_malformed_id_in_the_path_is_404(client: httpx.AsyncClient, admin: Account, bad_id: str) -> None:
    assert_problem(await client.get(f"{USERS}{bad_id}", headers=admin.headers), 404)


# --- list ---------------------------------------------------------------------------------


async def test_list_returns_a_page_object_newest_first_by_default(client: httpx.AsyncClient, admin: Account) -> None:
    first = await sign_up(client)
    second = await sign_up(client)

    response = await client.get(USERS, headers=admin.headers)

    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"items", "total", "limit", "offset"}
    assert (page["total"], page["limit"], page["offset"]) == (3, 20, 0)
    assert [u["id"] for u in page["items"]] == [second["id"], first["id"], admin.id]
    assert all(set(item) == PUBLIC_FIELDS for item in page["items"])


async def test_limit_and_offset_page_through_every_user_once(client: httpx.AsyncClient, admin: Account) -> None:
    created = {(await sign_up(client))["id"] for _ in range(5)} | {admin.id}

    seen: list[str] = []
    for offset in range(0, 6, 2):
        page = (await client.get(USERS, params={"limit": 2, "offset": offset}, headers=admin.headers)).json()
        assert (page["total"], page["limit"], page["offset"]) == (6, 2, offset)
        seen += [u["id"] for u in page["items"]]

    assert len(seen) == 6
    assert set(seen) == created


async def test_list_filters_by_exact_email_case_insensitively(client: httpx.AsyncClient, admin: Account) -> None:
    wanted = await sign_up(client, "Exact.Match@example.com")
    await sign_up(client, "exact.match.not@example.com")

    page = (await client.get(USERS, params={"email": " EXACT.match@Example.com"}, headers=admin.headers)).json()

    assert page["total"] == 1
    assert [u["id"] for u in page["items"]] == [wanted["id"]]


async def test_list_search_matches_a_substring_of_the_email_literally(
    client: httpx.AsyncClient, admin: Account
) -> None:
    underscore = await sign_up(client, "first_last@example.com")
    await sign_up(client, "firstXlast@example.com")

    page = (await client.get(USERS, params={"search": "ST_LA"}, headers=admin.headers)).json()

    assert [u["id"] for u in page["items"]] == [underscore["id"]]
    assert (await client.get(USERS, params={"search": "%"}, headers=admin.headers)).json()["total"] == 0


async def test_list_filters_by_is_active(client: httpx.AsyncClient, admin: Account) -> None:
    active = await sign_up(client)
    inactive = await sign_up(client)
    deactivate = await client.patch(f"{USERS}{inactive['id']}", json={"is_active": False}, headers=admin.headers)
    assert deactivate.status_code == 200

    only_active = (await client.get(USERS, params={"is_active": "true"}, headers=admin.headers)).json()
    only_inactive = (await client.get(USERS, params={"is_active": "false"}, headers=admin.headers)).json()

    assert [u["id"] for u in only_active["items"]] == [active["id"], admin.id]
    assert [u["id"] for u in only_inactive["items"]] == [inactive["id"]]


async def test_list_orders_by_email_ascending_by_default_and_descending_on_request(
    client: httpx.AsyncClient, admin: Account
) -> None:
    for name in ("bravo", "alpha", "charlie"):
        await sign_up(client, f"{name}@sorting.example.com")

    async def emails(**params: str) -> list[str]:
        query = {"search": "@sorting.example.com", **params}
        return [u["email"] for u in (await client.get(USERS, params=query, headers=admin.headers)).json()["items"]]

    assert await emails(order_by="email") == [
        "alpha@sorting.example.com",
        "bravo@sorting.example.com",
        "charlie@sorting.example.com",
    ]
    assert await emails(order_by="email", sort="desc") == [
        "charlie@sorting.example.com",
        "bravo@sorting.example.com",
        "alpha@sorting.example.com",
    ]
    assert await emails(order_by="created_at", sort="asc") == [
        "bravo@sorting.example.com",
        "alpha@sorting.example.com",
        "charlie@sorting.example.com",
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
    client: httpx.AsyncClient, admin: Account, params: dict[str, str], field: str
) -> None:
    problem = assert_problem(await client.get(USERS, params=params, headers=admin.headers), 422)

    assert [error["field"] for error in problem["errors"]] == [field]


async def test_limit_of_1_and_100_are_accepted(client: httpx.AsyncClient, admin: Account) -> None:
    assert (await client.get(USERS, params={"limit": 1}, headers=admin.headers)).json()["limit"] == 1
    assert (await client.get(USERS, params={"limit": 100}, headers=admin.headers)).json()["limit"] == 100


# --- update -------------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_sent_and_moves_updated_at(client: httpx.AsyncClient) -> None:
    account = await make_account(client, full_name="Before")

    response = await client.patch(account.path, json={"full_name": "After"}, headers=account.headers)

    assert response.status_code == 200
    updated = response.json()
    assert updated["full_name"] == "After"
    assert {k: v for k, v in updated.items() if k not in {"full_name", "updated_at"}} == {
        k: v for k, v in account.user.items() if k not in {"full_name", "updated_at"}
    }
    assert parse_timestamp(updated["updated_at"]) > parse_timestamp(account.user["updated_at"])
    assert (await client.get(account.path, headers=account.headers)).json() == updated


async def test_patch_with_null_full_name_clears_it(client: httpx.AsyncClient) -> None:
    account = await make_account(client, full_name="Someone")

    response = await client.patch(account.path, json={"full_name": None}, headers=account.headers)

    assert response.status_code == 200
    assert response.json()["full_name"] is None


async def test_patch_with_an_empty_body_changes_nothing(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.patch(account.path, json={}, headers=account.headers)

    assert response.status_code == 200
    assert response.json() == account.user


async def test_patch_email_is_normalised(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.patch(account.path, json={"email": " New.Address@Example.com"}, headers=account.headers)

    assert response.json()["email"] == "new.address@example.com"


async def test_patch_to_an_email_another_user_has_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    taken = await sign_up(client)
    account = await make_account(client)

    response = await client.patch(account.path, json={"email": taken["email"].upper()}, headers=account.headers)

    assert_problem(response, 409, detail="Email already registered")
    assert (await client.get(account.path, headers=account.headers)).json() == account.user


async def test_patch_password_replaces_the_stored_hash(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    account = await make_account(client)
    query = text("SELECT hashed_password FROM users WHERE id = :id")
    before = (await db.execute(query, {"id": account.id})).scalar_one()

    response = await client.patch(account.path, json={"password": "a brand new secret"}, headers=account.headers)

    after = (await db.execute(query, {"id": account.id})).scalar_one()
    assert response.status_code == 200
    assert "password" not in response.json()
    assert after != before
    assert after.startswith("$argon2id$")


async def test_a_superuser_may_change_the_flags(client: httpx.AsyncClient, admin: Account) -> None:
    user = await sign_up(client)

    response = await client.patch(
        f"{USERS}{user['id']}", json={"is_active": False, "is_superuser": True}, headers=admin.headers
    )

    assert (response.json()["is_active"], response.json()["is_superuser"]) == (False, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short"}, "password"),
        ({"full_name": "x" * 256}, "full_name"),
        ({"is_active": "yes"}, "is_active"),
        ({"is_active": "true"}, "is_active"),
        ({"is_active": 0}, "is_active"),
        ({"is_superuser": 1}, "is_superuser"),
        ({"full_name": 42}, "full_name"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"hashed_password": "$argon2id$forged"}, "hashed_password"),
    ],
)
async def test_patch_with_invalid_or_unknown_fields_is_422_and_changes_nothing(
    client: httpx.AsyncClient, admin: Account, body: dict[str, object], field: str
) -> None:
    user = await sign_up(client)

    problem = assert_problem(await client.patch(f"{USERS}{user['id']}", json=body, headers=admin.headers), 422)

    assert [error["field"] for error in problem["errors"]] == [field]
    assert (await client.get(f"{USERS}{user['id']}", headers=admin.headers)).json() == user


async def test_patch_of_an_unknown_user_is_404_for_a_superuser(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.patch(f"{USERS}{uuid.uuid4()}", json={"full_name": "Nobody"}, headers=admin.headers)

    assert_problem(response, 404, detail="User not found")


async def test_patch_with_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    response = await client.patch(
        account.path, content=b"{", headers={**account.headers, "content-type": "application/json"}
    )

    assert_problem(response, 400)


# --- delete -------------------------------------------------------------------------------


async def test_delete_answers_204_then_every_call_for_that_user_is_404(
    client: httpx.AsyncClient, db: AsyncConnection, admin: Account
) -> None:
    user = await sign_up(client)
    path = f"{USERS}{user['id']}"

    response = await client.delete(path, headers=admin.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert await count_users(db, user["email"]) == 0
    assert_problem(await client.get(path, headers=admin.headers), 404)
    assert_problem(await client.patch(path, json={"full_name": "Ghost"}, headers=admin.headers), 404)
    assert_problem(await client.delete(path, headers=admin.headers), 404)


async def test_a_user_may_delete_itself_and_its_token_stops_working(client: httpx.AsyncClient) -> None:
    account = await make_account(client)

    assert (await client.delete(account.path, headers=account.headers)).status_code == 204

    assert_problem(await client.get(f"{USERS}me", headers=account.headers), 401)


async def test_a_deleted_users_email_can_sign_up_again(client: httpx.AsyncClient) -> None:
    account = await make_account(client)
    await client.delete(account.path, headers=account.headers)

    again = await sign_up(client, account.user["email"])

    assert again["id"] != account.id


# --- routing ------------------------------------------------------------------------------


async def test_an_unsupported_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put(USERS, json={})

    assert_problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_an_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404)


# --- the docs page's examples ---------------------------------------------------------------


async def test_the_documented_examples_work_as_shown(client: httpx.AsyncClient, admin: Account) -> None:
    # What a reader of /docs does: send each operation's example as it stands ("Test Request").
    sign_up_example, created_example = await documented_examples(client, "/api/v1/users", "post")
    form_example, token_example = await documented_examples(client, "/api/v1/auth/token", "post")
    update_example, updated_example = await documented_examples(client, "/api/v1/users/{user_id}", "patch")

    created = await client.post(USERS, json=sign_up_example)
    token = await client.post(TOKEN, data=form_example)
    updated = await client.patch(f"{USERS}{created.json()['id']}", json=update_example, headers=admin.headers)

    assert created.status_code == 201, created.text
    assert same_shape(created_example, created.json())
    assert token.status_code == 200, token.text
    assert same_shape(token_example, token.json())
    assert token.json()["expires_in"] == token_example["expires_in"]  # the shipped token lifetime
    assert updated.status_code == 200, updated.text
    assert same_shape(updated_example, updated.json())
    assert {key: updated.json()[key] for key in update_example if key != "password"} == {
        key: value for key, value in update_example.items() if key != "password"
    }
