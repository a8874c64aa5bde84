"""The rate-limit concern: one limiter per app, applied around authentication, its headers on every answer."""

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
    """The per-caller limit, counted twice around the authentication middleware (list this plugin after it).

    Before authentication a request counts as ``before_auth`` names it (a
    verified token's user) or as its address; after it, as ``after_auth``
    names it (a credential's owner), so all of a user's credentials share one
    budget. The limiter is the ``rate_limiter`` dependency, for the limits
    that features keep on costly operations.
    """

    def __init__(self, settings: RateLimitSettings, *, before_auth: Identify, after_auth: Identify) -> None:
        self._settings = settings
        self._before_auth = before_auth
        self._after_auth = after_auth
        self._counter = window_counter(settings.redis_url)
        self.limiter = RateLimiter(self._counter)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Provide the limiter; when limits are on, place both middlewares and stamp the headers."""
        app_config.dependencies["rate_limiter"] = Provide(lambda: self.limiter, use_cache=True, sync_to_thread=False)
        app_config.on_shutdown.append(self._counter.close)
        if self._settings.rate_limit_enabled:
            per_minute = self._settings.rate_limit_per_minute
            app_config.middleware.insert(0, RateLimitMiddleware(self.limiter, per_minute, self._before_auth))
            app_config.middleware.append(
                RateLimitMiddleware(self.limiter, per_minute, self._after_auth, by_address=False)
            )
            app_config.before_send.append(add_rate_limit_headers)
        return app_config
