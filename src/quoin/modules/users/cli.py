"""``quoin users …``: account administration from the command line."""

from __future__ import annotations

import asyncio

import click
import msgspec

from quoin.config import Settings
from quoin.core.errors import QuoinError
from quoin.core.security.encryption import FieldCipher
from quoin.core.security.passwords import Passwords
from quoin.core.text import human_message
from quoin.db.config import sqlalchemy_config
from quoin.modules.users.repository import UserRepository
from quoin.modules.users.service import UserService

__all__ = ["users_group"]


@click.group(name="users")
def users_group() -> None:
    """Manage user accounts."""


@users_group.command(name="create-superuser")
@click.option("--email", required=True, help="Email of the superuser to create or promote.")
@click.option(
    "--password",
    envvar="QUOIN_SUPERUSER_PASSWORD",
    default=None,
    help="Password (8-128 characters); prefer the QUOIN_SUPERUSER_PASSWORD environment variable. "
    "Required for a new user; for an existing one, replaces the password when given.",
)
def create_superuser(email: str, password: str | None) -> None:
    """Create a superuser, or promote and reactivate an existing user. Safe to run again."""
    try:
        created, user_id = asyncio.run(_ensure_superuser(Settings.from_env(), email, password))
    except QuoinError as exc:
        raise click.ClickException(str(exc)) from None
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).rpartition(" - at `$.")
        raise click.ClickException(f"{where.rstrip('`')}: {human_message(message)}" if message else str(exc)) from None
    click.echo(f"{'created' if created else 'updated'} superuser {email.strip().lower()} ({user_id})")


@users_group.command(name="reencrypt")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000))
def reencrypt(batch_size: int) -> None:
    """Rewrite every full_name with the newest of ENCRYPTION_KEYS (plaintext ones get encrypted).

    Each batch commits on its own, so the app keeps running and an interrupted
    run can simply be started again: rows already on the newest key are skipped.
    """
    settings = Settings.from_env()
    scanned, rewritten = asyncio.run(_reencrypt(settings, batch_size))
    click.echo(f"re-encrypted {rewritten} of {scanned} full names with the newest key")


async def _reencrypt(settings: Settings, batch_size: int) -> tuple[int, int]:
    cipher = FieldCipher(settings.security.field_keys)
    config = sqlalchemy_config(settings.db, engine_hooks=[cipher.bind])
    scanned = rewritten = 0
    last_id = None
    try:
        while True:
            async with config.get_session() as session:
                repository = UserRepository(session=session)
                batch = await repository.stored_full_names(after=last_id, limit=batch_size)
                if not batch:
                    return scanned, rewritten
                for user_id, stored in batch:
                    if not cipher.is_current(stored):
                        new = cipher.encrypt(cipher.decrypt(stored))
                        rewritten += await repository.replace_stored_full_name(user_id, stored, new)
                await session.commit()
            scanned += len(batch)
            last_id = batch[-1][0]
            click.echo(f"  {scanned} scanned, {rewritten} rewritten", err=True)
    finally:
        await config.get_engine().dispose()


async def _ensure_superuser(settings: Settings, email: str, password: str | None) -> tuple[bool, str]:
    config = sqlalchemy_config(settings.db, engine_hooks=[FieldCipher(settings.security.field_keys).bind])
    passwords = Passwords(settings.passwords)
    try:
        async with config.get_session() as session:
            service = UserService(session=session, passwords=passwords)
            user, created = await service.ensure_superuser(email, password)
            return created, str(user.id)
    finally:
        await passwords.close()
        await config.get_engine().dispose()
