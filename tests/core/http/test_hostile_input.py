"""Hostile and malformed input: always a clear 4xx problem document, never a 5xx, never a changed database."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.helpers import PASSWORD, TOKEN, USERS, Account, assert_problem, count_users, make_account


@pytest.fixture
async def admin(client: httpx.AsyncClient, db: AsyncConnection) -> Account:
    return await make_account(client, db, superuser=True)


def nested(depth: int) -> bytes:
    return (
        b'{"email": "deep@example.com", "password": "deep-password", "full_name": ' + b"[" * depth + b"]" * depth + b"}"
    )


@pytest.mark.parametrize("depth", [64, 100_000])
async def test_deeply_nested_json_is_refused(client: httpx.AsyncClient, db: AsyncConnection, depth: int) -> None:
    response = await client.post(USERS, content=nested(depth), headers={"content-type": "application/json"})

    assert response.status_code in {400, 413, 422}
    assert_problem(response, response.status_code)
    assert await count_users(db) == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"email": "a@example.com", "password": "plain-text"}'),
        ("application/x-www-form-urlencoded", b"email=a%40example.com&password=secretsecret"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.io\r\n--x--',
        ),
        ("application/xml", b"<user><email>a@example.com</email></user>"),
        ("", b'{"email": "a@example.com", "password": "no-content-type"}'),
    ],
)
async def test_a_body_in_another_media_type_is_415(
    client: httpx.AsyncClient, db: AsyncConnection, content_type: str, body: bytes
) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = await client.post(USERS, content=body, headers=headers)

    assert_problem(response, 415, detail="Send the body as application/json")
    assert await count_users(db) == 0


async def test_a_json_login_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(TOKEN, json={"username": "a@example.com", "password": PASSWORD})

    assert_problem(response, 415, detail="Send the body as application/x-www-form-urlencoded")


async def test_json_with_a_charset_parameter_is_accepted(client: httpx.AsyncClient) -> None:
    body = b'{"email": "charset@example.com", "password": "with-charset"}'

    response = await client.post(USERS, content=body, headers={"content-type": "application/json; charset=utf-8"})

    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "nul\\u0000@example.com", "password": "nul-in-email"}',
        b'{"email": "a@example.com", "password": "nul-in-name", "full_name": "Bad\\u0000Name"}',
        b'{"email": "\xc3\x28@example.com", "password": "bad-utf8"}',
        b'{"email": "' + "é".encode() * 300 + b'@example.com", "password": "unicode-flood"}',
        b'{"email": "\\u00fcber@ex\\u00e4mple.com", "password": "unicode-email"}',
        b'{"email": "a@example.com", "password": ' + b'"' + b"p" * 10_000 + b'"}',
        b'{"email": ["a@example.com"], "password": "array-email"}',
        b'{"email": null, "password": null}',
        b"[]",
        b'"just a string"',
        b"{}",
        b"{" * 5,
    ],
)
async def test_malformed_sign_ups_are_4xx_problems_and_store_nothing(
    client: httpx.AsyncClient, db: AsyncConnection, body: bytes
) -> None:
    response = await client.post(USERS, content=body, headers={"content-type": "application/json"})

    assert response.status_code in {400, 422}
    assert_problem(response, response.status_code)
    assert await count_users(db) == 0


@pytest.mark.parametrize(
    "value",
    ["' OR '1'='1", "a@example.com'; DROP TABLE users; --", "%' OR email LIKE '%", "\\", "_%_%", "a\u0000b", "\u202e"],
)
async def test_sql_metacharacters_in_filters_are_just_text(
    client: httpx.AsyncClient, db: AsyncConnection, admin: Account, value: str
) -> None:
    before = await count_users(db)

    searched = await client.get(USERS, params={"search": value}, headers=admin.headers)
    exact = await client.get(USERS, params={"email": value}, headers=admin.headers)

    for response in (searched, exact):
        if response.status_code == 200:
            assert (response.json()["items"], response.json()["total"]) == ([], 0)
        else:
            assert_problem(response, 422)
    assert await count_users(db) == before


@pytest.mark.parametrize(
    "username",
    ["' OR 1=1 --", "admin'--", "a" * 254, "nul\u0000@example.com", "\u0000", "é" * 200],
)
async def test_hostile_logins_are_401_or_422(client: httpx.AsyncClient, username: str) -> None:
    response = await client.post(TOKEN, data={"username": username, "password": "whatever-it-is"})

    assert response.status_code in {401, 422}
    assert_problem(response, response.status_code)


@pytest.mark.parametrize(
    "query",
    ["offset=0&offset=-5", "limit=-1", "limit=1e3", "limit=99999999999999999999999", "offset=1.5", "limit=%00"],
)
async def test_out_of_range_paging_is_422_even_when_repeated(
    client: httpx.AsyncClient, admin: Account, query: str
) -> None:
    field = query.split("=", 1)[0]

    problem = assert_problem(await client.get(f"{USERS}?{query}", headers=admin.headers), 422)

    assert [error["field"] for error in problem["errors"]] == [field]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("limit=1&limit=2", ("limit", 2)), ("offset=3&offset=0", ("offset", 0))],
)
async def test_a_repeated_query_parameter_takes_its_last_value(
    client: httpx.AsyncClient, admin: Account, query: str, expected: tuple[str, int]
) -> None:
    response = await client.get(f"{USERS}?{query}", headers=admin.headers)

    assert response.status_code == 200
    name, value = expected
    assert response.json()[name] == value


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer " + "A" * 10_000},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": "Bearer\u00a0token"},
        {"Authorization": ""},
    ],
)
async def test_hostile_credentials_are_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    encoded = {k: v.encode("utf-8") for k, v in headers.items()}

    response = await client.get(USERS, headers=encoded)

    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "not-an-email", "password": "long enough"}, "email", "not a valid email address"),
        (
            {"email": "ada@example.com", "password": "long enough", "full_name": "Bad\u0001Name"},
            "full_name",
            "must not contain control characters",
        ),
    ],
)
async def test_a_value_that_breaks_a_pattern_is_named_in_plain_words(
    client: httpx.AsyncClient, body: dict[str, str], field: str, message: str
) -> None:
    problem = assert_problem(await client.post(USERS, json=body), 422)

    assert problem["errors"] == [{"field": field, "message": message}]
