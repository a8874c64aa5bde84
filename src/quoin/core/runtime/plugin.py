"""The process's concern, last of all plugins: what runs once everything else has started."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from quoin.core.runtime.freeze import freeze_startup_objects

__all__ = ["RuntimePlugin"]


class RuntimePlugin(InitPluginProtocol):
    """Freezes the objects alive after start-up out of the garbage collector's passes; list it last."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Run the freeze after every other start-up hook."""
        app_config.on_startup.append(freeze_startup_objects)
        return app_config
