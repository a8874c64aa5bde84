"""The users table as the database enforces it, through the repository."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC

import msgspec
import pytest
from advanced_alchemy.exceptions import RepositoryError
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import Float, bindparam, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from quoin.config import Settings
from quoin.core.security.encryption import FieldCipher, is_token
from quoin.db.direct import DirectQuery
from quoin.db.errors import is_unique_violation
from quoin.db.transactions import as_one_statement
from quoin.modules.users.models import User
from quoin.modules.users.repository import UserRepository
from quoin.modules.users.schemas import UserRead
from tests.support.helpers import driver_statements, sqlalchemy_statements, stored_full_name


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


# --- reads on the driver (quoin.db.direct) -----------------------------------------------


async def test_a_user_by_id_is_read_on_the_driver_with_the_values_sqlalchemy_reads(
    repository: UserRepository, engine: AsyncEngine
) -> None:
    user = await repository.add(User(email="ada@example.com", hashed_password="h", full_name="Ada Lovelace"))
    expected = msgspec.convert(user, UserRead, from_attributes=True)

    with sqlalchemy_statements(engine) as statements:
        found = await repository.get_public(user.id)
        missing = await repository.get_public(uuid.uuid4())

    assert statements == []  # neither went through SQLAlchemy's execution
    assert found == expected  # full_name decrypted by the column's type, as SQLAlchemy reads it
    assert found is not None
    assert found.created_at.utcoffset() == UTC.utcoffset(None)
    assert missing is None


async def test_a_sampled_trace_reads_through_sqlalchemy_so_it_shows_the_statement(
    repository: UserRepository, engine: AsyncEngine
) -> None:
    user = await repository.add(User(email="traced@example.com", hashed_password="h", full_name="Grace"))
    tracer = TracerProvider().get_tracer(__name__)  # samples everything: its spans record

    with sqlalchemy_statements(engine) as statements, tracer.start_as_current_span("request"):
        found = await repository.get_public(user.id)

    assert len(statements) == 1
    assert "FROM users" in statements[0].statement
    assert found == msgspec.convert(user, UserRead, from_attributes=True)


async def test_with_sql_echo_on_the_read_goes_through_sqlalchemy_so_it_is_logged(
    database_url: URL, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_async_engine(database_url)
    FieldCipher(settings.security.field_keys).bind(engine)
    try:
        # What DB_ECHO=true sets at start-up (SQLAlchemy decides whether to log as a connection opens).
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            async with AsyncSession(engine) as session:
                found = await UserRepository(session=session).get_public(uuid.uuid4())
    finally:
        await engine.dispose()

    logged = [record.getMessage() for record in caplog.records if record.name.startswith("sqlalchemy.engine")]
    assert any("FROM users" in message and "WHERE users.id" in message for message in logged), logged
    assert found is None


async def test_a_driver_read_on_a_dead_connection_fails_through_sqlalchemy(
    database_url: URL, settings: Settings
) -> None:
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")  # as a GET's session
    FieldCipher(settings.security.field_keys).bind(engine)
    try:
        async with AsyncSession(engine) as session:
            repository = UserRepository(session=session)
            assert await repository.get_public(uuid.uuid4()) is None
            # The connection dies under the session (as when its server goes away).
            (await (await session.connection()).get_raw_connection()).driver_connection.terminate()

            with pytest.raises(DBAPIError) as raised:
                await repository.get_public(uuid.uuid4())

        # SQLAlchemy saw the failure: it recognised the lost connection and dropped it from the pool.
        assert raised.value.connection_invalidated
    finally:
        await engine.dispose()


async def test_a_statement_cancelled_on_the_driver_drops_its_connection(
    engine: AsyncEngine, db: AsyncConnection
) -> None:
    sleep = DirectQuery(select(func.pg_sleep(bindparam("seconds", type_=Float))))
    async with AsyncSession(engine) as session:
        running = asyncio.create_task(sleep.first(session, {"seconds": 30}))
        for _ in range(200):  # until the statement runs on the server
            await asyncio.sleep(0.05)
            sleeping = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'"
            if await db.scalar(text(sleeping)):
                break
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

        # Its state unknown, the connection goes (as SQLAlchemy does on a cancelled execution), not back to the pool.
        assert (await session.connection()).invalidated


def test_a_read_with_a_value_in_place_of_a_named_parameter_is_refused() -> None:
    # Values are bound per call by name; one baked into the statement would be sent as the first call's forever.
    with pytest.raises(ValueError, match="named parameters only"):
        DirectQuery(select(User.id).where(User.email == "ada@example.com"))


# --- PATCH's UPDATE … RETURNING -------------------------------------------------------------


async def committed_user(engine: AsyncEngine, email: str) -> User:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        return await UserRepository(session=session).add(
            User(email=email, hashed_password="h", full_name="Ada"), auto_commit=True
        )


@pytest.mark.committing
@pytest.mark.usefixtures("db")  # empties the table afterwards
async def test_an_update_declared_one_statement_runs_without_a_transaction(
    engine: AsyncEngine, settings: Settings
) -> None:
    user = await committed_user(engine, "ada@example.com")

    with sqlalchemy_statements(engine) as statements:
        async with driver_statements(engine) as sent, AsyncSession(engine) as session:
            await as_one_statement(session)
            updated = await UserRepository(session=session).update_public(user.id, {"full_name": "Ada King"})
            await session.commit()

    assert [(e.statement.split(maxsplit=1)[0], e.isolation_level) for e in statements] == [("UPDATE", "AUTOCOMMIT")]
    assert sent == []  # no BEGIN or COMMIT around it
    async with driver_statements(engine) as sent_after, AsyncSession(engine, expire_on_commit=False) as session:
        read_back = await session.get_one(User, user.id)
        stored = await stored_full_name(session, user.id)
        await session.commit()
    assert sent_after == ["BEGIN", "COMMIT"]  # the connection went back to the pool transactional again
    assert updated == msgspec.convert(read_back, UserRead, from_attributes=True)  # the values SQLAlchemy reads
    assert updated is not None
    assert updated.full_name == "Ada King"
    assert updated.updated_at > user.updated_at
    assert is_token(stored)  # encrypted by the column's type on the way in
    assert FieldCipher(settings.security.field_keys).decrypt(stored) == "Ada King"


@pytest.mark.committing
@pytest.mark.usefixtures("db")
async def test_one_statement_inside_a_transaction_already_begun_joins_it(engine: AsyncEngine) -> None:
    user = await committed_user(engine, "lin@example.com")

    with sqlalchemy_statements(engine) as statements:
        async with AsyncSession(engine) as session:
            repository = UserRepository(session=session)
            await repository.get_one(id=user.id)  # begins the transaction
            await as_one_statement(session)
            await repository.update_public(user.id, {"full_name": "Rolled back"})
            await session.rollback()

    assert [e.isolation_level for e in statements] == [None, None]
    async with AsyncSession(engine) as session:
        assert (await UserRepository(session=session).get_public(user.id)) == msgspec.convert(
            user, UserRead, from_attributes=True
        )


@pytest.mark.committing
@pytest.mark.usefixtures("db")
async def test_an_update_in_a_transactional_session_is_part_of_its_transaction(engine: AsyncEngine) -> None:
    user = await committed_user(engine, "grace@example.com")

    with sqlalchemy_statements(engine) as statements:
        async with AsyncSession(engine) as session:
            # The session's first statement: its transaction begins with it, so a rollback undoes it.
            updated = await UserRepository(session=session).update_public(user.id, {"full_name": "Rolled back"})
            await session.rollback()

    assert [statement.statement.split(maxsplit=1)[0] for statement in statements] == ["UPDATE"]
    assert updated is not None
    assert updated.full_name == "Rolled back"
    async with AsyncSession(engine) as session:
        assert (await UserRepository(session=session).get_public(user.id)) == msgspec.convert(
            user, UserRead, from_attributes=True
        )
