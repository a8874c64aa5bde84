"""``POST /api/v1/auth/token``: the OAuth2 password flow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from quoin.config import Settings
from quoin.core.security.passwords import Passwords
from tests.support.helpers import PASSWORD, TOKEN, USERS, assert_problem, login, sign_up, unique_email


async def test_login_returns_a_short_lived_bearer_jwt_for_the_user(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    user = await sign_up(client)

    response = await client.post(TOKEN, data={"username": user["email"], "password": PASSWORD})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 900)
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"
    claims = jwt.decode(body["access_token"], settings.security.secret_key, algorithms=["HS256"])
    assert claims["sub"] == user["id"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"]


async def test_the_token_authenticates_the_user(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    response = await client.get(f"{USERS}me", headers=await login(client, user["email"]))

    assert response.json() == user


async def test_two_logins_get_distinct_token_ids(client: httpx.AsyncClient, settings: Settings) -> None:
    user = await sign_up(client)
    tokens = [(await login(client, user["email"]))["Authorization"].split()[1] for _ in range(2)]

    ids = {jwt.decode(t, settings.security.secret_key, algorithms=["HS256"])["jti"] for t in tokens}

    assert len(ids) == 2


async def test_login_matches_the_email_case_insensitively(client: httpx.AsyncClient) -> None:
    await sign_up(client, "Mixed.Case@Example.com")

    response = await client.post(TOKEN, data={"username": "  MIXED.case@example.COM ", "password": PASSWORD})

    assert response.status_code == 200


def without_request_specifics(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "request_id"}


async def test_unknown_email_and_wrong_password_get_the_same_401(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    unknown = await client.post(TOKEN, data={"username": unique_email(), "password": PASSWORD})
    wrong = await client.post(TOKEN, data={"username": user["email"], "password": "not the password"})

    for response in (unknown, wrong):
        assert_problem(response, 401, detail="Incorrect email or password")
        assert response.headers["www-authenticate"] == "Bearer"
    assert without_request_specifics(unknown.json()) == without_request_specifics(wrong.json())


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every Argon2 computation the app sends to its hashing processes (which still run it).

    Each is ``(work, the hash verified against or None)``.
    """
    seen: list[tuple[str, str | None]] = []
    real = Passwords._run

    async def recording(self: Passwords, work: Callable[..., Any], *args: Any) -> Any:
        seen.append((work.__name__, args[1] if work.__name__ == "verify_password" else None))
        return await real(self, work, *args)

    monkeypatch.setattr(Passwords, "_run", recording)
    return seen


def parameters(password_hash: str) -> str:
    """The ``$argon2id$v=..$m=..,t=..,p=..`` part: what the cost of verifying depends on."""
    return "$".join(password_hash.split("$")[:4])


async def test_unknown_email_and_wrong_password_both_cost_one_verification_of_equal_cost(
    client: httpx.AsyncClient, db: AsyncConnection, argon2_calls: list[tuple[str, str | None]]
) -> None:
    user = await sign_up(client)
    stored = (await db.execute(text("SELECT hashed_password FROM users WHERE id = :id"), {"id": user["id"]})).scalar()
    argon2_calls.clear()

    unknown = await client.post(TOKEN, data={"username": unique_email(), "password": PASSWORD})
    after_unknown = list(argon2_calls)
    wrong = await client.post(TOKEN, data={"username": user["email"], "password": "not the password"})
    after_wrong = argon2_calls[len(after_unknown) :]

    assert (unknown.status_code, wrong.status_code) == (401, 401)
    assert after_wrong == [("verify_password", stored)]
    assert len(after_unknown) == 1
    work, verified_against = after_unknown[0]
    assert work == "verify_password"
    assert verified_against is not None
    assert parameters(verified_against) == parameters(stored)


async def test_an_inactive_user_cannot_log_in(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    user = await sign_up(client)
    await db.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": user["id"]})

    response = await client.post(TOKEN, data={"username": user["email"], "password": PASSWORD})

    assert_problem(response, 401, detail="Incorrect email or password")


async def test_a_hash_with_old_parameters_is_upgraded_on_login(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    user = await sign_up(client)
    old_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2).hash(PASSWORD)
    await db.execute(text("UPDATE users SET hashed_password = :h WHERE id = :id"), {"h": old_hash, "id": user["id"]})

    response = await client.post(TOKEN, data={"username": user["email"], "password": PASSWORD})

    new_hash = (await db.execute(text("SELECT hashed_password FROM users WHERE id = :id"), {"id": user["id"]})).scalar()
    assert response.status_code == 200
    assert new_hash != old_hash
    assert parameters(new_hash) == "$argon2id$v=19$m=1024,t=1,p=1"
    assert PasswordHasher().verify(new_hash, PASSWORD)


async def test_a_current_hash_is_left_alone_on_login(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    user = await sign_up(client)
    query = text("SELECT hashed_password FROM users WHERE id = :id")
    before = (await db.execute(query, {"id": user["id"]})).scalar()

    await login(client, user["email"])

    assert (await db.execute(query, {"id": user["id"]})).scalar() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "a@example.com"}, "password"),
        ({"username": "a@example.com", "password": PASSWORD, "grant_type": "client_credentials"}, "grant_type"),
    ],
)
async def test_a_malformed_login_form_is_422(client: httpx.AsyncClient, data: dict[str, str], field: str) -> None:
    problem = assert_problem(await client.post(TOKEN, data=data), 422)

    assert [error["field"] for error in problem["errors"]] == [field]


async def test_an_empty_login_form_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(TOKEN, content=b"", headers={"content-type": "application/x-www-form-urlencoded"})

    assert_problem(response, 400, detail="The request body is empty; this operation needs one")


async def test_oauth2_client_fields_are_accepted(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)
    form = {"grant_type": "password", "username": user["email"], "password": PASSWORD, "scope": "", "client_id": "docs"}

    assert (await client.post(TOKEN, data=form)).status_code == 200
