"""The process's concern, last of all plugins: what runs once everything else has started."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from quoin.core.runtime.garbage import tune_garbage_collection

__all__ = ["RuntimePlugin"]


class RuntimePlugin(InitPluginProtocol):
    """Sets the garbage collector for serving once every other start-up hook has run; list it last."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Tune garbage collection after every other start-up hook (``quoin.core.runtime.garbage``)."""
        app_config.on_startup.append(tune_garbage_collection)
        return app_config
