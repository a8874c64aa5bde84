"""``quoin users …``: account administration from the command line."""

from __future__ import annotations

import asyncio

import click
import msgspec

from quoin.config import Settings
from quoin.core.errors import QuoinError
from quoin.core.passwords import Passwords
from quoin.db.config import sqlalchemy_config
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
    except (QuoinError, msgspec.ValidationError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'created' if created else 'updated'} superuser {email.strip().lower()} ({user_id})")


async def _ensure_superuser(settings: Settings, email: str, password: str | None) -> tuple[bool, str]:
    config = sqlalchemy_config(settings.db)
    try:
        async with config.get_session() as session:
            service = UserService(session=session, passwords=Passwords(settings.passwords))
            user, created = await service.ensure_superuser(email, password)
            return created, str(user.id)
    finally:
        await config.get_engine().dispose()
