"""Rows and entities become response Structs by field name: reordering either side changes nothing, a gap fails."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quoin.db.contracts import columns_for, to_struct
from quoin.modules.users.models import User
from quoin.modules.users.schemas import UserRead


class ReorderedUser(msgspec.Struct, kw_only=True):
    """UserRead's fields in another order, with two of the same type swapped."""

    updated_at: datetime
    is_superuser: bool
    is_active: bool
    created_at: datetime
    full_name: str | None
    email: str
    id: UUID


class UserWithNickname(msgspec.Struct, kw_only=True):
    id: UUID
    nickname: str


async def add_user(db: AsyncConnection) -> UUID:
    values = {"email": "ada@example.com", "hashed_password": "h", "full_name": "Ada"}
    return (await db.execute(insert(User).values(values).returning(User.id))).scalar_one()


async def test_a_row_fills_each_field_from_the_column_of_its_name_whatever_the_order(db: AsyncConnection) -> None:
    user_id = await add_user(db)
    # The statement selects in UserRead's order; ReorderedUser declares them otherwise.
    row = (await db.execute(select(*columns_for(UserRead, User)).where(User.id == user_id))).one()

    read = to_struct(UserRead, row)
    reordered = to_struct(ReorderedUser, row)

    assert msgspec.structs.asdict(reordered) == msgspec.structs.asdict(read)
    assert (read.id, read.email, read.full_name) == (user_id, "ada@example.com", "Ada")
    assert (read.is_active, read.is_superuser) == (True, False)
    assert read.updated_at >= read.created_at


async def test_a_struct_selects_the_columns_named_like_its_fields(db: AsyncConnection) -> None:
    assert [column.key for column in columns_for(ReorderedUser, User)] == list(ReorderedUser.__struct_fields__)
    user_id = await add_user(db)
    row = (await db.execute(select(*columns_for(ReorderedUser, User)).where(User.id == user_id))).one()

    assert to_struct(ReorderedUser, row) == to_struct(ReorderedUser, dict(zip(row._fields, row, strict=True)))


def test_a_field_the_model_has_no_column_for_fails_at_once() -> None:
    with pytest.raises(TypeError, match=r"User has no column for UserWithNickname\.nickname"):
        columns_for(UserWithNickname, User)


def test_a_source_lacking_a_field_fails_loudly_instead_of_shifting_values() -> None:
    with pytest.raises(msgspec.ValidationError, match="nickname"):
        to_struct(UserWithNickname, {"id": UUID(int=1), "email": "ada@example.com"})


def test_an_entity_fills_the_struct_by_attribute_name() -> None:
    user = User(id=UUID(int=7), email="grace@example.com", full_name="Grace", is_active=False, is_superuser=False)
    user.created_at = user.updated_at = datetime(2024, 1, 2, 3, 4, 5)

    reordered = to_struct(ReorderedUser, user)

    assert (reordered.id, reordered.email, reordered.full_name) == (UUID(int=7), "grace@example.com", "Grace")
    assert (reordered.is_active, reordered.is_superuser) == (False, False)
