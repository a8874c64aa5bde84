"""UserService rules, called directly on a real PostgreSQL session."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from quoin.core.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from quoin.core.security.passwords import PASSWORDS_STATE_KEY
from quoin.modules.users.deps import provide_user_filters
from quoin.modules.users.schemas import UserCreate, UserOrderField, UserUpdate
from quoin.modules.users.service import UserService
from tests.support.helpers import PASSWORD


@pytest.fixture
async def service(db: AsyncConnection, app: Litestar) -> AsyncIterator[UserService]:
    async with AsyncSession(bind=db, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
        yield UserService(session=session, passwords=app.state[PASSWORDS_STATE_KEY])


async def test_register_stores_the_canonical_email_and_a_verifiable_hash(service: UserService) -> None:
    user = await service.register(UserCreate(email="\tMixed.Case@Example.ORG ", password=PASSWORD, full_name="M"))

    assert user.email == "mixed.case@example.org"
    assert user.full_name == "M"
    assert (user.is_active, user.is_superuser) == (True, False)
    assert PasswordHasher().verify(user.hashed_password, PASSWORD)


async def test_register_an_email_that_exists_in_another_case_is_a_conflict(service: UserService) -> None:
    await service.register(UserCreate(email="twin@example.com", password=PASSWORD))

    with pytest.raises(ConflictError, match="Email already registered"):
        await service.register(UserCreate(email="TWIN@example.com", password=PASSWORD))


async def test_get_user_of_an_unknown_id_is_not_found(service: UserService) -> None:
    with pytest.raises(NotFoundError, match="User not found"):
        await service.get_user(uuid.uuid4())


async def test_update_user_rehashes_a_new_password_and_normalises_a_new_email(service: UserService) -> None:
    user = await service.register(UserCreate(email="old@example.com", password=PASSWORD))
    old_hash = user.hashed_password

    updated = await service.update_user(
        user.id, UserUpdate(email=" NEW@example.com", password="another secret"), actor=user
    )

    await service.repository.session.refresh(user)  # the update went around the ORM
    assert updated.email == user.email == "new@example.com"
    assert user.hashed_password != old_hash
    assert PasswordHasher().verify(user.hashed_password, "another secret")


async def test_update_user_without_changes_leaves_updated_at_alone(service: UserService) -> None:
    user = await service.register(UserCreate(email="still@example.com", password=PASSWORD))
    before = user.updated_at

    unchanged = await service.update_user(user.id, UserUpdate(), actor=user)

    assert unchanged.updated_at == before


async def test_update_user_to_a_taken_email_is_a_conflict(service: UserService) -> None:
    await service.register(UserCreate(email="taken@example.com", password=PASSWORD))
    user = await service.register(UserCreate(email="mine@example.com", password=PASSWORD))

    with pytest.raises(ConflictError):
        await service.update_user(user.id, UserUpdate(email="Taken@Example.com"), actor=user)


async def test_update_user_of_an_unknown_id_is_not_found(service: UserService) -> None:
    admin = await service.register(UserCreate(email="root@example.com", password=PASSWORD), superuser=True)

    with pytest.raises(NotFoundError):
        await service.update_user(uuid.uuid4(), UserUpdate(full_name="x"), actor=admin)


@pytest.mark.parametrize("flags", [UserUpdate(is_active=False), UserUpdate(is_superuser=True)])
async def test_only_a_superuser_may_change_the_flags(service: UserService, flags: UserUpdate) -> None:
    user = await service.register(UserCreate(email="plain@example.com", password=PASSWORD))
    admin = await service.register(UserCreate(email="boss@example.com", password=PASSWORD), superuser=True)

    with pytest.raises(ForbiddenError):
        await service.update_user(user.id, flags, actor=user)
    changed = await service.update_user(user.id, flags, actor=admin)

    assert (changed.is_active, changed.is_superuser) != (True, False)


async def test_delete_user_removes_it_and_a_second_delete_is_not_found(service: UserService) -> None:
    user = await service.register(UserCreate(email="gone@example.com", password=PASSWORD))

    await service.delete_user(user.id)

    with pytest.raises(NotFoundError):
        await service.get_user(user.id)
    with pytest.raises(NotFoundError):
        await service.delete_user(user.id)


async def test_list_users_applies_filters_paging_and_order(service: UserService) -> None:
    for name in ("b-match", "a-match", "c-other", "d-match"):
        await service.register(UserCreate(email=f"{name}@example.com", password=PASSWORD))
    filters = provide_user_filters(limit=2, offset=1, search="match", order_by=UserOrderField.EMAIL)

    users, total = await service.list_users(filters)

    assert total == 3
    assert [u.email for u in users] == ["b-match@example.com", "d-match@example.com"]


async def test_ensure_superuser_creates_one_with_a_verifiable_password(service: UserService) -> None:
    user, created = await service.ensure_superuser(" Root@Example.com", "root password")

    assert created is True
    assert (user.email, user.is_superuser, user.is_active) == ("root@example.com", True, True)
    assert PasswordHasher().verify(user.hashed_password, "root password")


async def test_ensure_superuser_promotes_and_reactivates_an_existing_user_keeping_its_password(
    service: UserService,
) -> None:
    existing = await service.register(UserCreate(email="promote.me@example.com", password=PASSWORD))
    existing.is_active = False
    old_hash = existing.hashed_password

    user, created = await service.ensure_superuser("promote.me@example.com", None)
    again, created_again = await service.ensure_superuser("promote.me@example.com", None)

    assert (created, created_again) == (False, False)
    assert user.id == again.id == existing.id
    assert (user.is_superuser, user.is_active) == (True, True)
    assert user.hashed_password == old_hash


async def test_ensure_superuser_replaces_the_password_when_given(service: UserService) -> None:
    await service.register(UserCreate(email="reset@example.com", password=PASSWORD))

    user, _ = await service.ensure_superuser("reset@example.com", "a new root password")

    assert PasswordHasher().verify(user.hashed_password, "a new root password")


@pytest.mark.parametrize(("email", "password"), [("new.root@example.com", None), ("new.root@example.com", "short")])
async def test_ensure_superuser_refuses_a_new_user_without_a_valid_password(
    service: UserService, email: str, password: str | None
) -> None:
    with pytest.raises((ValidationError, msgspec.ValidationError)):
        await service.ensure_superuser(email, password)
