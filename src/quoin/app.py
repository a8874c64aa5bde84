"""The application factory: one plugin per concern, and the features; nothing else.

App-wide objects are made by the plugin that owns their concern, never at
import time. A plugin hands one to handlers as a dependency it registers
(``rate_limiter``, ``token_issuer``, ``settings``), or, where a dependency of
its own would cost a request a task group (the password hasher), in the
app's ``State`` under a key its module exports.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from quoin.auth.identity import caller_identity
from quoin.auth.plugin import AuthPlugin
from quoin.config import Settings
from quoin.core.http.docs import DocsPlugin
from quoin.core.http.plugin import HttpPlugin
from quoin.core.observability.plugin import ObservabilityPlugin
from quoin.core.ratelimit.plugin import RateLimitPlugin
from quoin.core.runtime.plugin import RuntimePlugin
from quoin.core.security.plugin import SecurityPlugin
from quoin.db.plugin import DatabasePlugin
from quoin.db.problems import DATABASE_PROBLEMS
from quoin.feature import FeaturesPlugin, credential_resolvers, principal_source
from quoin.modules import FEATURES

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the QuoinAPI application from ``settings`` (read from the environment by default)."""
    settings = settings or Settings.from_env()
    security = SecurityPlugin(settings.passwords, settings.security)
    observability = ObservabilityPlugin(
        settings.app, settings.telemetry, echo_sql=settings.db.db_echo, metrics=settings.server.metrics_enabled
    )
    database = DatabasePlugin(settings.db, engine_hooks=[security.cipher.bind, *observability.engine_hooks])
    resolvers = credential_resolvers(FEATURES, settings, database.changes)
    auth = AuthPlugin(settings.security, database.config, principal_source(FEATURES), database.changes, resolvers)
    limits = RateLimitPlugin(settings.rate_limit, identify=caller_identity(auth.auth))
    return Litestar(
        dependencies={"settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False)},
        # Each plugin that puts middleware first wraps those listed before it: outermost last.
        plugins=[
            DocsPlugin(),
            FeaturesPlugin(FEATURES),
            auth,
            limits,
            HttpPlugin(settings.http, settings.app, DATABASE_PROBLEMS, [resolver.header for resolver in resolvers]),
            database,
            security,
            observability,
            RuntimePlugin(),
        ],
        request_max_body_size=settings.app.request_max_body_size,  # Litestar reads it here only
        debug=settings.app.debug,
    )
