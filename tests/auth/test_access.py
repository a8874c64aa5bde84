"""Who may call what: every protected operation against every way a credential can be wrong."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from quoin.config import Settings
from tests.support.helpers import API_KEYS, PASSWORD, USERS, Account, assert_problem, make_account, running_app, sign_up
from tests.support.settings import make_settings


@dataclass(frozen=True)
class World:
    """A victim user with a key, and the settings the app signs tokens with."""

    victim: Account
    key_id: str
    settings: Settings


@pytest.fixture
async def world(client: httpx.AsyncClient, db: AsyncConnection, settings: Settings) -> World:
    victim = await make_account(client)
    created = await client.post(API_KEYS, json={"name": "victim key"}, headers=victim.headers)
    return World(victim=victim, key_id=created.json()["id"], settings=settings)


def operations(world: World) -> dict[str, tuple[str, str, dict[str, object] | None]]:
    """Every protected operation, aimed at the victim's resources."""
    return {
        "list users": ("GET", USERS, None),
        "me": ("GET", f"{USERS}me", None),
        "get user": ("GET", world.victim.path, None),
        "patch user": ("PATCH", world.victim.path, {"full_name": "Mallory"}),
        "delete user": ("DELETE", world.victim.path, None),
        "create key": ("POST", API_KEYS, {"name": "stolen"}),
        "list keys": ("GET", API_KEYS, None),
        "revoke key": ("DELETE", f"{API_KEYS}{world.key_id}", None),
    }


OPERATIONS = ["list users", "me", "get user", "patch user", "delete user", "create key", "list keys", "revoke key"]


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


CredentialMaker = Callable[[httpx.AsyncClient, AsyncConnection, World], Awaitable[dict[str, str]]]


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


async def key_of(client: httpx.AsyncClient, account: Account) -> tuple[str, str]:
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


BAD_CREDENTIALS: dict[str, CredentialMaker] = {
    f.__name__: f
    for f in (
        no_credentials, garbage_token, wrong_scheme, token_signed_with_another_key, alg_none_token, expired_token,
        token_without_jti, token_for_a_non_uuid_subject, token_of_a_deleted_user, token_of_a_deactivated_user,
        revoked_key, expired_key, key_of_a_deactivated_user, garbage_key, tampered_key,
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
    assert (await client.get(world.victim.path, headers=world.victim.headers)).json() == world.victim.user
    keys = (await client.get(API_KEYS, headers=world.victim.headers)).json()
    assert [k["id"] for k in keys["items"]] == [world.key_id]


# --- another user's resources -------------------------------------------------------------


@pytest.mark.parametrize("operation", ["list users", "get user", "patch user", "delete user"])
async def test_a_normal_user_is_403_on_other_users(client: httpx.AsyncClient, world: World, operation: str) -> None:
    mallory = await make_account(client)
    method, path, body = operations(world)[operation]

    response = await client.request(method, path, json=body, headers=mallory.headers)

    assert_problem(response, 403)
    assert (await client.get(world.victim.path, headers=world.victim.headers)).json() == world.victim.user


async def test_another_users_key_cannot_be_revoked_and_keeps_working(client: httpx.AsyncClient, world: World) -> None:
    mallory = await make_account(client)

    response = await client.delete(f"{API_KEYS}{world.key_id}", headers=mallory.headers)

    assert_problem(response, 404, detail="API key not found")
    keys = (await client.get(API_KEYS, headers=world.victim.headers)).json()
    assert [k["id"] for k in keys["items"]] == [world.key_id]


async def test_a_user_lists_only_its_own_keys(client: httpx.AsyncClient, world: World) -> None:
    mallory = await make_account(client)

    page = (await client.get(API_KEYS, headers=mallory.headers)).json()

    assert (page["items"], page["total"]) == ([], 0)


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
    "path", ["/health/live", "/health/ready", "/docs", "/schema/openapi.json", "/", "/static/css/site.css"]
)
async def test_public_routes_need_no_credentials(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200
