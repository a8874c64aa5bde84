"""The users table as the database enforces it, through the repository."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC

import pytest
from advanced_alchemy.exceptions import RepositoryError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from quoin.db.errors import is_unique_violation
from quoin.modules.users.models import User
from quoin.modules.users.repository import UserRepository


@pytest.fixture
async def repository(db: AsyncConnection) -> AsyncIterator[UserRepository]:
    async with AsyncSession(bind=db, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
        yield UserRepository(session=session)


def new_user(email: str) -> User:
    return User(email=email, hashed_password="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA")


async def test_ids_are_time_ordered_uuid7(repository: UserRepository) -> None:
    first = await repository.add(new_user("first@example.com"))
    second = await repository.add(new_user("second@example.com"))

    assert first.id.version == 7
    assert second.id.version == 7
    assert second.id > first.id


async def test_audit_timestamps_are_set_in_utc(repository: UserRepository) -> None:
    user = await repository.add(new_user("clock@example.com"))

    assert user.created_at.tzinfo is not None
    assert user.created_at.utcoffset() == UTC.utcoffset(None)
    assert user.updated_at >= user.created_at


async def test_a_second_row_with_the_same_email_is_a_unique_violation(repository: UserRepository) -> None:
    await repository.add(new_user("dup@example.com"))

    with pytest.raises(RepositoryError) as raised:
        await repository.add(new_user("dup@example.com"))

    assert is_unique_violation(raised.value)


async def test_the_database_refuses_an_email_that_is_not_lower_case(db: AsyncConnection) -> None:
    insert = text(
        "INSERT INTO users (id, email, hashed_password, created_at, updated_at) VALUES (:id, :e, 'h', now(), now())"
    )
    await db.execute(text("SAVEPOINT before_insert"))

    with pytest.raises(IntegrityError, match="ck_users_email_lowercase"):
        await db.execute(insert, {"id": uuid.uuid4(), "e": "Upper@Example.com"})
    await db.execute(text("ROLLBACK TO SAVEPOINT before_insert"))


async def test_flags_default_to_active_and_not_superuser_in_the_database(db: AsyncConnection) -> None:
    user_id = uuid.uuid4()
    await db.execute(
        text(
            "INSERT INTO users (id, email, hashed_password, created_at, updated_at)"
            " VALUES (:id, 'd@e.io', 'h', now(), now())"
        ),
        {"id": user_id},
    )

    row = (await db.execute(text("SELECT is_active, is_superuser FROM users WHERE id = :id"), {"id": user_id})).one()

    assert (row.is_active, row.is_superuser) == (True, False)


async def test_get_one_or_none_finds_by_email(repository: UserRepository) -> None:
    added = await repository.add(new_user("find.me@example.com"))

    assert await repository.get_one_or_none(email="find.me@example.com") == added
    assert await repository.get_one_or_none(email="missing@example.com") is None
