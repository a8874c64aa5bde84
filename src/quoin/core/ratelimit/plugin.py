"""The rate-limit concern: one limiter per app, applied before authentication, its headers on every answer."""

from __future__ import annotations

from collections.abc import Callable

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol
from litestar.types import Scope

from quoin.config import RateLimitSettings
from quoin.core.ratelimit.limiter import RateLimiter, window_counter
from quoin.core.ratelimit.middleware import RateLimitMiddleware, add_rate_limit_headers

__all__ = ["RateLimitPlugin"]

Identify = Callable[[Scope], str | None]


class RateLimitPlugin(InitPluginProtocol):
    """The per-caller limit, counted once per request before the authentication middleware (list it after that).

    A request counts as ``identify`` names it (a user, when its credential
    says so without the database) or as its client address: one counter
    round trip per request, and a flood is refused before it costs a
    database lookup. The limiter is the ``rate_limiter`` dependency, for the
    limits that features keep on costly operations.
    """

    def __init__(self, settings: RateLimitSettings, *, identify: Identify) -> None:
        self._settings = settings
        self._identify = identify
        self._counter = window_counter(settings.redis_url)
        self.limiter = RateLimiter(self._counter)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Provide the limiter; when limits are on, place the middleware and stamp the headers."""
        app_config.dependencies["rate_limiter"] = Provide(lambda: self.limiter, use_cache=True, sync_to_thread=False)
        app_config.on_shutdown.append(self._counter.close)
        if self._settings.rate_limit_enabled:
            per_minute = self._settings.rate_limit_per_minute
            app_config.middleware.insert(0, RateLimitMiddleware(self.limiter, per_minute, self._identify))
            app_config.before_send.append(add_rate_limit_headers)
        return app_config
