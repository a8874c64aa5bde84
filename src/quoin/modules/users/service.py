"""Business rules for users: email canonical form, password hashing, uniqueness."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import msgspec
from advanced_alchemy.exceptions import RepositoryError
from advanced_alchemy.extensions.litestar import service
from advanced_alchemy.filters import StatementFilter
from sqlalchemy.exc import IntegrityError

from quoin.core.errors import ConflictError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError
from quoin.core.security.passwords import Passwords
from quoin.db.changes import ChangeFeed
from quoin.db.errors import is_unique_violation
from quoin.db.transactions import as_one_statement
from quoin.modules.users.models import User
from quoin.modules.users.repository import UserRepository
from quoin.modules.users.schemas import UserCreate, UserRead, UserUpdate, normalize_email

__all__ = ["UserService"]

EMAIL_TAKEN = "Email already registered"
USER_NOT_FOUND = "User not found"
BAD_CREDENTIALS = "Incorrect email or password"


class UserService(service.SQLAlchemyAsyncRepositoryService[User, UserRepository]):
    """Creates, reads, updates and deletes users; every write commits before the caller answers.

    A change to a user is announced to this process's caches at once through
    ``changes`` (the table's trigger tells every instance, this one included, a moment later).
    """

    repository_type = UserRepository

    def __init__(self, *, passwords: Passwords, changes: ChangeFeed | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.passwords = passwords
        self._changes = changes

    async def register(self, data: UserCreate, *, superuser: bool = False) -> User:
        """Create a user; 409 if the email is taken, even when two sign-ups race."""
        with _email_must_be_free():
            return await self.create(
                User(
                    email=normalize_email(data.email),
                    full_name=data.full_name,
                    hashed_password=await self.passwords.hash(data.password),
                    is_superuser=superuser,
                ),
                auto_commit=True,
            )

    async def get_public(self, user_id: UUID) -> UserRead:
        """The user with this id as clients see it, or ``NotFoundError``."""
        user = await self.repository.get_public(user_id)
        if user is None:
            raise NotFoundError(USER_NOT_FOUND)
        return user

    async def get_user(self, user_id: UUID) -> User:
        """The user with this id, or ``NotFoundError``."""
        user = await self.get_one_or_none(id=user_id)
        if user is None:
            raise NotFoundError(USER_NOT_FOUND)
        return user

    async def list_users(self, filters: Sequence[StatementFilter]) -> tuple[list[UserRead], int]:
        """One page of users and the total matching ``filters``."""
        return await self.repository.list_public(filters)

    async def authenticate(self, email: str, password: str) -> User:
        """The active user with these credentials, else ``UnauthorizedError``.

        Unknown emails cost one hash verification too, so timing does not tell
        them apart from wrong passwords. A hash made with older parameters is
        replaced by one made with the current ones.
        """
        user = await self.get_one_or_none(email=normalize_email(email))
        await self._release_connection()
        verified = await self.passwords.verify(user.hashed_password if user else None, password)
        if user is None or not verified or not user.is_active:
            raise UnauthorizedError(BAD_CREDENTIALS)
        if self.passwords.needs_rehash(user.hashed_password):
            user.hashed_password = await self.passwords.hash(password)
            await self.repository.session.commit()
        return user

    async def ensure_superuser(self, email: str, password: str | None) -> tuple[User, bool]:
        """Create, or promote and reactivate, a superuser; returns the user and whether it was created.

        ``password``, when given, replaces the existing one. Running it twice changes nothing more.
        """
        existing = await self.get_one_or_none(email=normalize_email(email))
        if existing is None:
            if password is None:
                raise ValidationError("A new superuser needs a password")
            data = msgspec.convert({"email": email, "password": password}, UserCreate)
            return await self.register(data, superuser=True), True
        if password is not None:
            msgspec.convert({"email": email, "password": password}, UserCreate)
            existing.hashed_password = await self.passwords.hash(password)
        existing.is_superuser = True
        existing.is_active = True
        await self.repository.session.commit()
        self._announce(existing.id)
        return existing, False

    async def update_user(self, user_id: UUID, data: UserUpdate, *, actor: UserRead) -> UserRead:
        """Apply the fields present in ``data`` on behalf of ``actor``, in one statement.

        Only superusers may change ``is_active`` or ``is_superuser`` (403);
        404 if the user is gone, 409 if the new email is taken.
        """
        if not actor.is_superuser and (data.is_active is not msgspec.UNSET or data.is_superuser is not msgspec.UNSET):
            raise ForbiddenError("Only superusers may change is_active or is_superuser")
        changes: dict[str, Any] = msgspec.structs.asdict(data)
        changes = {name: value for name, value in changes.items() if value is not msgspec.UNSET}
        if "email" in changes:
            changes["email"] = normalize_email(changes["email"])
        if "password" in changes:
            await self._release_connection()
            changes["hashed_password"] = await self.passwords.hash(changes.pop("password"))
        if not changes:
            return await self.get_public(user_id)
        with _email_must_be_free():
            await as_one_statement(self.repository.session)  # one UPDATE … RETURNING: atomic on its own
            user = await self.repository.update_public(user_id, changes)
            await self.repository.session.commit()
        self._announce(user_id)
        if user is None:
            raise NotFoundError(USER_NOT_FOUND)
        return user

    async def _release_connection(self) -> None:
        """End the read transaction so no pooled connection waits through an Argon2 computation.

        Loaded objects stay usable (``expire_on_commit=False``); the next query takes a connection again.
        """
        await self.repository.session.commit()

    async def delete_user(self, user_id: UUID) -> None:
        """Delete the user for good; 404 if there is none."""
        user = await self.get_user(user_id)
        await self.delete(user.id, auto_commit=True)
        self._announce(user.id)

    def _announce(self, user_id: UUID) -> None:
        """Tell this process's caches that the user changed, now that the change is committed."""
        if self._changes is not None:
            self._changes.forget(User.__tablename__, str(user_id))


@contextmanager
def _email_must_be_free() -> Iterator[None]:
    """Turn a unique-constraint violation on the email into a 409 conflict."""
    try:
        yield
    except (RepositoryError, IntegrityError) as exc:
        if is_unique_violation(exc):
            raise ConflictError(EMAIL_TAKEN) from exc
        raise
