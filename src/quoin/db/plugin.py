"""The database concern: advanced-alchemy's plugin owns the engine; start-up waits for the schema."""

from __future__ import annotations

from collections.abc import Sequence

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from quoin.config import DatabaseSettings
from quoin.db.changes import CHANGES_STATE_KEY, ChangeFeed
from quoin.db.config import EngineHook, QuoinSQLAlchemyConfig, sqlalchemy_config
from quoin.db.startup import database_waiter

__all__ = ["DatabasePlugin"]


class DatabasePlugin(InitPluginProtocol):
    """The engine, its pool and the request session; ``engine_hooks`` let other concerns watch the engine.

    It also owns the feed of row changes (``changes``) that keeps the other
    concerns' row caches honest; it is in the app's state under
    ``CHANGES_STATE_KEY`` for the writers that announce their own changes.
    """

    def __init__(self, settings: DatabaseSettings, engine_hooks: Sequence[EngineHook] = ()) -> None:
        self.config: QuoinSQLAlchemyConfig = sqlalchemy_config(settings, engine_hooks)
        self.changes = ChangeFeed.for_url(settings.url, settings.db_connect_timeout)
        self._startup_timeout = settings.db_startup_timeout

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Add advanced-alchemy's plugin, the start-up wait, the change feed and the pool's closing."""
        app_config.plugins.append(SQLAlchemyPlugin(config=self.config))
        app_config.state[CHANGES_STATE_KEY] = self.changes
        app_config.on_startup += [database_waiter(self.config, self._startup_timeout), self.changes.start]
        app_config.on_shutdown += [self.changes.stop, self._dispose_engine]
        return app_config

    async def _dispose_engine(self) -> None:
        # advanced-alchemy's lifespan disposes the engine only when its state key is the
        # default one, which holds for the first config in a process alone; a second app
        # (tests, or an app factory called twice) would keep its connections open.
        await self.config.get_engine().dispose()
