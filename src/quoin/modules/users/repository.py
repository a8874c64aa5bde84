"""Data access for users."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from advanced_alchemy.extensions.litestar import repository
from advanced_alchemy.filters import LimitOffset, OrderBy, StatementFilter
from sqlalchemy import CursorResult, Select, Text, Update, bindparam, func, select, type_coerce, update

from quoin.db.contracts import columns_for, to_struct
from quoin.db.direct import DirectQuery
from quoin.modules.users.models import User
from quoin.modules.users.schemas import UserRead

__all__ = ["UserRepository"]


# What clients may see of a user: the columns named like UserRead's fields.
_PUBLIC_COLUMNS = columns_for(UserRead, User)
# GET /users/{id}, and the caller when not remembered: run on the driver (quoin.db.direct).
_PUBLIC_BY_ID = DirectQuery(select(*_PUBLIC_COLUMNS).where(User.id == bindparam("user_id")))


@functools.lru_cache(maxsize=64)  # one per set of changed columns: a handful in practice
def _update_returning_public(columns: frozenset[str]) -> Update:
    """``UPDATE users SET <columns>, updated_at … RETURNING`` the public columns, with bound values.

    Built once per set of columns, so SQLAlchemy neither builds nor hashes a new statement per request.
    """
    table = User.__table__
    new_values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in sorted(columns)}  # typed by their columns
    return (
        update(table)  # type: ignore[arg-type]  # a mapped class's __table__ is a Table
        .where(table.c.id == bindparam("user_id"))
        .values(**new_values, updated_at=bindparam("now"))
        .returning(*(table.c[column.key] for column in _PUBLIC_COLUMNS))
    )


class UserRepository(repository.SQLAlchemyAsyncRepository[User]):
    """advanced-alchemy's repository over ``users``.

    The hot reads (one user, a page of users, the caller when not
    remembered) skip the ORM: one Core statement whose rows become
    ``UserRead`` by column name (``quoin.db.contracts``); the one by id runs
    on the driver (``quoin.db.direct``). Entities are loaded only where they
    are changed.
    """

    model_type = User

    async def get_public(self, user_id: UUID) -> UserRead | None:
        """The user with this id as clients see it, or None."""
        row = await _PUBLIC_BY_ID.first(self.session, {"user_id": user_id})
        return None if row is None else to_struct(UserRead, row)

    async def list_public(self, filters: Sequence[StatementFilter]) -> tuple[list[UserRead], int]:
        """One page of users as clients see them, and how many match ``filters`` in all.

        The total is its own ``count(*)``: with a window count instead, every
        page would sort and count the whole matching set.
        """
        # advanced-alchemy's filters are typed for SQLAlchemy 2.0's Select of one type parameter.
        page = cast("Select[Any]", select(*_PUBLIC_COLUMNS))
        count = select(func.count()).select_from(User)
        for statement_filter in filters:
            page = statement_filter.append_to_statement(page, User)
            if not isinstance(statement_filter, OrderBy | LimitOffset):
                count = statement_filter.append_to_statement(count, User)
        connection = await self.session.connection()
        rows = (await connection.execute(page)).all()
        total = (await connection.execute(count)).scalar_one()
        return [to_struct(UserRead, row) for row in rows], total

    async def update_public(self, user_id: UUID, changes: dict[str, Any]) -> UserRead | None:
        """Apply ``changes`` (column values) in one ``UPDATE … RETURNING``; the updated user, or None if gone."""
        statement = _update_returning_public(frozenset(changes))
        values = {f"new_{name}": value for name, value in changes.items()}
        connection = await self.session.connection()
        result = await connection.execute(statement, {**values, "user_id": user_id, "now": datetime.now(UTC)})
        row = result.first()
        return None if row is None else to_struct(UserRead, row)

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
