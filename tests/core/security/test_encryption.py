"""full_name is encrypted at rest, readable through the API, and survives a key rotation."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from quoin.config import Settings, SettingsError
from quoin.core.security.encryption import DecryptionError, FieldCipher
from quoin.db.config import ALEMBIC_INI
from tests.support.helpers import (
    PRODUCTION,
    USERS,
    assert_problem,
    make_account,
    running_app,
    sign_up,
    stored_full_name,
)
from tests.support.postgres_server import DatabaseFactory
from tests.support.settings import make_settings

OLD_KEY, NEW_KEY, STRANGER_KEY = (Fernet.generate_key().decode() for _ in range(3))


async def test_full_name_is_ciphertext_in_the_table_and_plaintext_through_the_api(
    client: httpx.AsyncClient, db: AsyncConnection, settings: Settings
) -> None:
    account = await make_account(client, full_name="Grace Hopper")

    stored = await stored_full_name(db, account.id)

    assert stored.startswith("gAAAAA")
    assert "Grace" not in stored
    assert FieldCipher(settings.security.field_keys).decrypt(stored) == "Grace Hopper"
    assert (await client.get(account.path, headers=account.headers)).json()["full_name"] == "Grace Hopper"


async def test_a_name_changed_by_patch_is_stored_encrypted_too(
    client: httpx.AsyncClient, db: AsyncConnection, settings: Settings
) -> None:
    account = await make_account(client, full_name="Before")

    response = await client.patch(account.path, json={"full_name": "Katherine Johnson"}, headers=account.headers)

    assert response.json()["full_name"] == "Katherine Johnson"
    stored = await stored_full_name(db, account.id)
    assert "Katherine" not in stored
    assert FieldCipher(settings.security.field_keys).decrypt(stored) == "Katherine Johnson"


async def test_the_same_name_encrypts_differently_each_time(client: httpx.AsyncClient, db: AsyncConnection) -> None:
    first = await sign_up(client, full_name="Same Name")
    second = await sign_up(client, full_name="Same Name")

    assert await stored_full_name(db, first["id"]) != await stored_full_name(db, second["id"])


def test_a_wrong_key_is_a_clear_error_not_garbage() -> None:
    token = FieldCipher([OLD_KEY]).encrypt("Ada")

    with pytest.raises(DecryptionError, match="cannot be decrypted with any key in ENCRYPTION_KEYS"):
        FieldCipher([STRANGER_KEY]).decrypt(token)
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(DecryptionError):
        FieldCipher([OLD_KEY]).decrypt(tampered)


def reencrypt(url: URL, keys: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL", "ENCRYPTION"))}
    env |= {"DATABASE_URL": url.render_as_string(hide_password=False), "ENCRYPTION_KEYS": keys}
    result = subprocess.run(
        [sys.executable, "-m", "quoin", "users", "reencrypt", "--batch-size", "2"],
        cwd=ALEMBIC_INI.parent, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.process
async def test_names_survive_a_key_rotation_and_a_resumable_reencryption_run(databases: DatabaseFactory) -> None:
    url = await databases.create(migrated=True)
    names = ["Ada Lovelace", "Alan Turing", "Edsger Dijkstra"]
    async with running_app(make_settings(url, ENCRYPTION_KEYS=OLD_KEY)) as (_, client):
        users = [await sign_up(client, full_name=name) for name in names]
        await sign_up(client)  # no name: nothing to encrypt
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.begin() as raw:
        # A row written before encryption existed: plaintext, still readable, encrypted by the run.
        legacy = users[0]["id"]
        await raw.execute(text("UPDATE users SET full_name = 'Ada Lovelace' WHERE id = :id"), {"id": legacy})

    rotated = f"{NEW_KEY},{OLD_KEY}"
    async with running_app(make_settings(url, ENCRYPTION_KEYS=rotated)) as (_, client):
        admin = await make_account(client)
        async with engine.begin() as raw:
            await raw.execute(text("UPDATE users SET is_superuser = true WHERE id = :id"), {"id": admin.id})
        before = {u["id"]: u["full_name"] for u in (await client.get(USERS, headers=admin.headers)).json()["items"]}

    first_run = reencrypt(url, rotated)
    second_run = reencrypt(url, rotated)

    async with engine.connect() as raw:
        stored = dict(
            (await raw.execute(text("SELECT id::text, full_name FROM users WHERE full_name IS NOT NULL"))).all()
        )
    await engine.dispose()
    async with running_app(make_settings(url, ENCRYPTION_KEYS=NEW_KEY)) as (_, client):
        after = {u["id"]: u["full_name"] for u in (await client.get(USERS, headers=admin.headers)).json()["items"]}

    assert [before[u["id"]] for u in users] == names
    assert first_run == "re-encrypted 3 of 3 full names with the newest key"
    assert second_run == "re-encrypted 0 of 3 full names with the newest key"
    assert all(FieldCipher([NEW_KEY]).is_current(value) for value in stored.values())
    assert after == before


async def test_a_row_written_with_an_unknown_key_answers_500_and_logs_why(
    client: httpx.AsyncClient, db: AsyncConnection, database_url: URL
) -> None:
    account = await make_account(client, full_name="Secret Name")
    foreign = FieldCipher([STRANGER_KEY]).encrypt("Someone Else")
    await db.execute(text("UPDATE users SET full_name = :v WHERE id = :id"), {"v": foreign, "id": account.id})

    response = await client.get(account.path, headers=account.headers)

    problem = assert_problem(response, 500)
    assert "Someone" not in response.text
    assert problem["detail"] == "An unexpected error occurred; it has been logged"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({**PRODUCTION, "ENCRYPTION_KEYS": ""}, "ENCRYPTION_KEYS holds the development key"),
        ({**PRODUCTION, "ENCRYPTION_KEYS": "not-a-key"}, "invalid setting ENCRYPTION_KEYS"),
        ({"ENCRYPTION_KEYS": f"{NEW_KEY},short"}, "invalid setting ENCRYPTION_KEYS"),
    ],
)
def test_missing_default_or_malformed_keys_are_refused(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ, env_file=None)
