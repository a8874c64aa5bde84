"""The layer ladder's servers: ``GET /api/v1/users/{id}`` with one more of the app's features per step.

Run as a script with ``LADDER_STEP`` set; between the raw floor and the app,
they show what each feature costs on this machine (docs/performance.md, "Scenarios"):

- ``framework``: a Litestar route (typed path parameter, the app's ``UserRead``
  as the answer) over a plain asyncpg pool running the floor's SQL; served
  like the floor, reading ``DATABASE_URL``, ``ENCRYPTION_KEYS`` and ``PORT``;
- ``repository``: the same route reading through the app's own data layer: the
  advanced-alchemy plugin's request session (autocommit for reads, as in the
  app) and ``UserRepository.get_public``;
- ``app``: the app itself, served by ``quoin serve`` from its settings, but
  without its security headers, which no setting turns off. The harness turns
  the other features off with their settings (``RATE_LIMIT_ENABLED``,
  ``LOG_LEVEL``, ``METRICS_ENABLED``, ``OTEL_SDK_DISABLED``) and back on one per step.
"""

from __future__ import annotations

import os
import sys
import uuid

import asyncpg
import uvicorn
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession

import quoin.app
from quoin import cli
from quoin.config import Settings
from quoin.core.http.headers import security_headers
from quoin.core.runtime.garbage import tune_garbage_collection
from quoin.core.security.encryption import FieldCipher
from quoin.db.config import sqlalchemy_config
from quoin.modules.users.repository import UserRepository
from quoin.modules.users.schemas import UserRead

__all__ = ["main"]

_GET = "SELECT id, email, full_name, is_active, is_superuser, created_at, updated_at FROM users WHERE id = $1"


def _framework(settings: Settings) -> Litestar:
    cipher = FieldCipher(settings.security.field_keys)

    @get("/api/v1/users/{user_id:uuid}")
    async def get_user(user_id: uuid.UUID, state: State) -> UserRead:
        row = await state.pool.fetchrow(_GET, user_id)
        if row is None:
            raise NotFoundException("User not found")
        stored = row["full_name"]
        return UserRead(**{**dict(row), "full_name": None if stored is None else cipher.decrypt(stored)})

    async def open_pool(app: Litestar) -> None:
        dsn = settings.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        app.state.pool = await asyncpg.create_pool(dsn, min_size=20, max_size=30)  # the floor's pool

    async def close_pool(app: Litestar) -> None:
        await app.state.pool.close()

    return Litestar([get_user, _live], on_startup=[open_pool, tune_garbage_collection], on_shutdown=[close_pool])


def _repository(settings: Settings) -> Litestar:
    cipher = FieldCipher(settings.security.field_keys)
    db_config = sqlalchemy_config(settings.db, engine_hooks=[cipher.bind])

    @get("/api/v1/users/{user_id:uuid}")
    async def get_user(user_id: uuid.UUID, db_session: AsyncSession) -> UserRead:
        user = await UserRepository(session=db_session).get_public(user_id)
        if user is None:
            raise NotFoundException("User not found")
        return user

    return Litestar(
        [get_user, _live], plugins=[SQLAlchemyPlugin(config=db_config)], on_startup=[tune_garbage_collection]
    )


@get("/health/live")
async def _live() -> dict[str, str]:
    return {"status": "ok"}


_create_app = quoin.app.create_app  # the app's own factory, kept before _serve_app rebinds its name


def _app_without_security_headers(settings: Settings | None = None) -> Litestar:
    """``create_app``, less the one ``before_send`` hook that stamps the security headers."""
    app = _create_app(settings)
    hook = security_headers(hsts=False).__qualname__
    kept = [sent for sent in app.before_send if getattr(sent, "__qualname__", None) != hook]
    if len(kept) != len(app.before_send) - 1:
        raise RuntimeError("the app's security-headers hook was not found: bench/ladder.py needs updating")
    app.before_send = kept
    return app


def _serve_app() -> None:
    """``quoin serve`` itself (uvicorn's options, the drain, the metrics port), on the app without security headers.

    ``quoin serve`` hands uvicorn the factory by name (``quoin.app:create_app``),
    so the name is pointed at the step's factory.
    """
    quoin.app.create_app = _app_without_security_headers
    sys.argv = ["quoin", "serve"]
    cli.main()


def main() -> None:
    """Serve one step: the app as ``quoin serve`` does; the others like the floor (uvicorn, no access log)."""
    step = os.environ["LADDER_STEP"]
    if step == "app":
        _serve_app()
        return
    settings = Settings.from_env(env_file=None)
    app = {"framework": _framework, "repository": _repository}[step](settings)
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
