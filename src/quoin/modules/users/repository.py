"""Data access for users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast
from uuid import UUID

from advanced_alchemy.extensions.litestar import repository
from sqlalchemy import CursorResult, Text, bindparam, select, type_coerce, update

from quoin.modules.users.models import User

__all__ = ["UserRepository"]


class UserRepository(repository.SQLAlchemyAsyncRepository[User]):
    """advanced-alchemy's repository over ``users``."""

    model_type = User

    async def stored_full_names(self, after: UUID | None, limit: int) -> Sequence[tuple[UUID, str]]:
        """The next ``limit`` non-null ``full_name`` values as stored (encrypted or not), in id order."""
        stored = type_coerce(User.full_name, Text)
        statement = select(User.id, stored).where(User.full_name.is_not(None)).order_by(User.id).limit(limit)
        if after is not None:
            statement = statement.where(User.id > after)
        rows = (await self.session.execute(statement)).all()
        return [(row[0], row[1]) for row in rows]

    async def replace_stored_full_name(self, user_id: UUID, old: str, new: str) -> bool:
        """Store ``new`` as-is if the row still holds ``old``; False if someone changed it meanwhile."""
        table = User.__table__
        stored = type_coerce(table.c.full_name, Text)
        statement = (
            update(table)  # type: ignore[arg-type]  # a mapped class's __table__ is a Table
            .where(table.c.id == user_id, stored == bindparam("old", type_=Text))
            .values({table.c.full_name: bindparam("new", type_=Text)})
        )
        result = cast("CursorResult[Any]", await self.session.execute(statement, {"old": old, "new": new}))
        return result.rowcount == 1
