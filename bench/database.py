"""The benchmark's own PostgreSQL: started from the local binaries, migrated, seeded."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from tests.support.postgres_server import PrivatePostgres

from quoin.config import Settings
from quoin.core.security.encryption import FieldCipher
from quoin.core.security.passwords import Passwords

__all__ = ["SEED_PASSWORD", "Seeded", "create_superuser", "migrate", "seed_users", "start_postgres"]

SEED_PASSWORD = "bench password 1234"  # noqa: S105  # every seeded user's password, on a throwaway database
_COLUMNS = ("id", "email", "full_name", "hashed_password", "is_active", "is_superuser", "created_at", "updated_at")


@dataclass(frozen=True)
class Seeded:
    """Where the seeded ids and emails were written, one a line, for the wrk scripts."""

    count: int
    ids_file: Path
    emails_file: Path
    missing_ids_file: Path  # as many ids that no user has
    seconds: float  # how long the COPY took

    def first_id(self) -> str:
        """The id of the oldest seeded user."""
        with self.ids_file.open() as ids:
            return ids.readline().strip()


def start_postgres() -> tuple[PrivatePostgres, str]:
    """A private server (the test suite's): the server and its SQLAlchemy URL."""
    server = PrivatePostgres()
    try:
        return server, server.start()
    except BaseException:
        server.stop()
        raise


def _quoin(args: list[str], env: dict[str, str], cwd: Path) -> None:
    """Run the app's CLI as users do; raise with its output on failure."""
    result = subprocess.run(  # noqa: S603  # our own interpreter and CLI
        [sys.executable, "-m", "quoin", *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"quoin {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def migrate(env: dict[str, str], cwd: Path) -> None:
    """``quoin database upgrade``, the documented way."""
    _quoin(["database", "upgrade", "--no-prompt"], env, cwd)


def create_superuser(env: dict[str, str], cwd: Path, email: str, password: str) -> None:
    """``quoin users create-superuser``, the documented way."""
    _quoin(["users", "create-superuser", "--email", email], {**env, "QUOIN_SUPERUSER_PASSWORD": password}, cwd)


def _uuid7(at: datetime) -> uuid.UUID:
    """A UUIDv7 for ``at`` (ms timestamp, version and variant bits, random rest), like the app's ids."""
    millis = int(at.timestamp() * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


async def seed_users(settings: Settings, count: int, folder: Path) -> Seeded:
    """Insert ``count`` users with COPY into the app's database; one Argon2 hash (the app's hasher) shared by all."""
    passwords = Passwords(settings.passwords)
    try:
        password_hash = await passwords.hash(SEED_PASSWORD)
    finally:
        await passwords.close()
    cipher = FieldCipher(settings.security.field_keys)
    # One second apart, oldest first, so created_at ordering (the list's default) means something.
    start = datetime.now(UTC) - timedelta(seconds=count)
    rows, missing = [], []
    for index in range(count):
        created = start + timedelta(seconds=index)
        email = f"user{index:06d}@bench.example.com"
        name = cipher.encrypt(f"Bench User {index}")
        rows.append((_uuid7(created), email, name, password_hash, True, False, created, created))
        missing.append(_uuid7(created))  # the same time, other random bits: like a user's id, but no user's
    dsn = settings.db.url.set(drivername="postgresql").render_as_string(hide_password=False)  # asyncpg's form
    connection = await asyncpg.connect(dsn)
    try:
        began = time.perf_counter()
        await connection.copy_records_to_table("users", records=rows, columns=_COLUMNS)
        await connection.execute("ANALYZE users")
        elapsed = time.perf_counter() - began
    finally:
        await connection.close()
    ids_file, emails_file, missing_file = folder / "ids.txt", folder / "emails.txt", folder / "missing-ids.txt"
    ids_file.write_text("".join(f"{row[0]}\n" for row in rows))
    emails_file.write_text("".join(f"{row[1]}\n" for row in rows))
    missing_file.write_text("".join(f"{user_id}\n" for user_id in missing))
    return Seeded(
        count=count, ids_file=ids_file, emails_file=emails_file, missing_ids_file=missing_file, seconds=elapsed
    )
