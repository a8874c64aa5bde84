"""Who may call what: every protected operation against every way a credential can be wrong.

The operations and the credentials other than bearer tokens are each
feature's (``tests/modules/<feature>/expectations.py``); the matrix is theirs
combined.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from quoin.core.http.openapi import STATIC_PREFIX
from tests.support.expectations import CredentialMaker, Request, World, registered
from tests.support.helpers import PASSWORD, USERS, assert_problem, make_account, running_app, sign_up
from tests.support.settings import make_settings

EXPECTATIONS = registered()


def operations(world: World) -> dict[str, Request]:
    """Every protected operation of every feature, aimed at the victim's resources."""
    return {name: aim(world) for e in EXPECTATIONS for name, aim in e.protected.items()}


OPERATIONS = [name for e in EXPECTATIONS for name in e.protected]


def sign(claims: dict[str, object], secret: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def claims_for(user_id: str, **overrides: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {"sub": user_id, "iat": now, "exp": now + timedelta(minutes=5), "jti": uuid.uuid4().hex, **overrides}


def unsigned(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        raw = json.dumps(value, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


async def no_credentials(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    return {}


async def garbage_token(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    return {"Authorization": "Bearer not.a.jwt"}


async def wrong_scheme(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    return {"Authorization": world.victim.headers["Authorization"].replace("Bearer", "Basic")}


async def token_signed_with_another_key(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict:
    return {"Authorization": f"Bearer {sign(claims_for(world.victim.id), 'another-secret-of-at-least-32-bytes!!')}"}


async def alg_none_token(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {unsigned(claims_for(world.victim.id))}"}


async def expired_token(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = claims_for(world.victim.id, iat=past - timedelta(minutes=15), exp=past)
    return {"Authorization": f"Bearer {sign(claims, world.settings.security.secret_key)}"}


async def token_without_jti(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    claims = claims_for(world.victim.id)
    del claims["jti"]
    return {"Authorization": f"Bearer {sign(claims, world.settings.security.secret_key)}"}


async def token_for_a_non_uuid_subject(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict:
    return {"Authorization": f"Bearer {sign(claims_for('admin'), world.settings.security.secret_key)}"}


async def token_of_a_deleted_user(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict[str, str]:
    ghost = await make_account(client)
    await db.execute(text("DELETE FROM users WHERE id = :id"), {"id": ghost.id})
    return ghost.headers


async def token_of_a_deactivated_user(client: httpx.AsyncClient, db: AsyncConnection, world: World) -> dict:
    sleeper = await make_account(client, db, superuser=True)
    await db.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": sleeper.id})
    return sleeper.headers


BAD_CREDENTIALS: dict[str, CredentialMaker] = {
    f.__name__: f
    for f in (
        no_credentials, garbage_token, wrong_scheme, token_signed_with_another_key, alg_none_token, expired_token,
        token_without_jti, token_for_a_non_uuid_subject, token_of_a_deleted_user, token_of_a_deactivated_user,
        *(maker for e in EXPECTATIONS for maker in e.bad_credentials),
    )
}  # fmt: skip


@pytest.mark.parametrize("credential", list(BAD_CREDENTIALS))
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_bad_credential_is_401_on_every_protected_operation_and_changes_nothing(
    client: httpx.AsyncClient, db: AsyncConnection, world: World, operation: str, credential: str
) -> None:
    headers = await BAD_CREDENTIALS[credential](client, db, world)
    method, path, body = operations(world)[operation]

    response = await client.request(method, path, json=body, headers=headers)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    for expectations in EXPECTATIONS:
        await expectations.assert_victim_unchanged(client, world)


# --- another user's resources -------------------------------------------------------------


@pytest.mark.parametrize("operation", ["list users", "get user", "patch user", "delete user"])
async def test_a_normal_user_is_403_on_other_users(client: httpx.AsyncClient, world: World, operation: str) -> None:
    mallory = await make_account(client)
    method, path, body = operations(world)[operation]

    response = await client.request(method, path, json=body, headers=mallory.headers)

    assert_problem(response, 403)
    assert (await client.get(world.victim.path, headers=world.victim.headers)).json() == world.victim.user


@pytest.mark.parametrize("flags", [{"is_active": False}, {"is_superuser": True}, {"is_superuser": False}])
async def test_a_normal_user_may_not_change_its_own_flags(
    client: httpx.AsyncClient, world: World, flags: dict[str, bool]
) -> None:
    response = await client.patch(world.victim.path, json=flags, headers=world.victim.headers)

    assert_problem(response, 403, detail="Only superusers may change is_active or is_superuser")
    assert (await client.get(world.victim.path, headers=world.victim.headers)).json() == world.victim.user


@pytest.mark.parametrize("operation", ["list users", "get user", "patch user", "delete user"])
async def test_a_superuser_may_act_on_other_users(
    client: httpx.AsyncClient, db: AsyncConnection, world: World, operation: str
) -> None:
    admin = await make_account(client, db, superuser=True)
    method, path, body = operations(world)[operation]

    response = await client.request(method, path, json=body, headers=admin.headers)
    after = await client.get(world.victim.path, headers=admin.headers)

    assert response.status_code == (204 if method == "DELETE" else 200)
    if operation == "list users":
        assert world.victim.id in {u["id"] for u in response.json()["items"]}
    elif operation == "get user":
        assert response.json() == world.victim.user
    elif operation == "patch user":
        assert after.json()["full_name"] == "Mallory"
    else:
        assert after.status_code == 404


async def test_deactivating_a_user_stops_its_tokens_at_once(
    client: httpx.AsyncClient, db: AsyncConnection, world: World
) -> None:
    admin = await make_account(client, db, superuser=True)

    deactivated = await client.patch(world.victim.path, json={"is_active": False}, headers=admin.headers)

    assert deactivated.status_code == 200
    assert_problem(await client.get(f"{USERS}me", headers=world.victim.headers), 401)
    reactivated = await client.patch(world.victim.path, json={"is_active": True}, headers=admin.headers)
    assert reactivated.status_code == 200
    assert (await client.get(f"{USERS}me", headers=world.victim.headers)).status_code == 200


async def test_a_token_that_was_accepted_is_refused_once_it_expires(client: httpx.AsyncClient, world: World) -> None:
    # Verified tokens are remembered (quoin/auth/tokens.py); the memory must not outlive `exp`.
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    claims = claims_for(world.victim.id, exp=expires)
    headers = {"Authorization": f"Bearer {sign(claims, world.settings.security.secret_key)}"}
    assert (await client.get(f"{USERS}me", headers=headers)).status_code == 200
    assert (await client.get(f"{USERS}me", headers=headers)).status_code == 200

    await asyncio.sleep((expires - datetime.now(UTC)).total_seconds() + 0.1)

    assert_problem(await client.get(f"{USERS}me", headers=headers), 401)


# --- sign-up ------------------------------------------------------------------------------


async def test_sign_up_is_open_without_credentials(client: httpx.AsyncClient) -> None:
    user = await sign_up(client)

    assert user["is_superuser"] is False


async def test_sign_up_can_be_turned_off(database_url: URL) -> None:
    async with running_app(make_settings(database_url, SIGNUP_ENABLED="false")) as (_, client):
        response = await client.post(USERS, json={"email": "closed@example.com", "password": PASSWORD})

    assert_problem(response, 403, detail="Sign-up is disabled")


# --- public routes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/health/live", "/health/ready", "/docs", "/schema/openapi.json", "/", f"{STATIC_PREFIX}/css/site.css"]
)
async def test_public_routes_need_no_credentials(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
