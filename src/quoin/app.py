"""The application factory: plugins, middleware and routers; nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig
from litestar.types import Middleware

from quoin.config import Settings
from quoin.core.access import PUBLIC
from quoin.core.content_type import require_declared_media_type
from quoin.core.encryption import FieldCipher
from quoin.core.http_security import HostHeaderMiddleware, cors_config, refused_preflight_as_problem, security_headers
from quoin.core.json_body import StrictJSONRequest
from quoin.core.logging import structlog_plugin
from quoin.core.memory import freeze_startup_objects
from quoin.core.metrics import watch_pool
from quoin.core.observability import RequestContextMiddleware, observe_response
from quoin.core.openapi import (
    STATIC_PREFIX,
    declare_closed_schemas,
    docs_page,
    drop_generated_error_responses,
    openapi_config,
)
from quoin.core.passwords import PASSWORDS_STATE_KEY, Passwords
from quoin.core.problem_details import problem_details_plugin
from quoin.core.rate_limit import (
    AddressLimit,
    RateLimiter,
    RateLimitMiddleware,
    add_rate_limit_headers,
    window_counter,
)
from quoin.core.request_id import add_request_id_header
from quoin.core.telemetry import TRACING_STATE_KEY, Tracing
from quoin.db.config import sqlalchemy_config
from quoin.db.startup import database_waiter
from quoin.modules import API_V1_ROUTES
from quoin.modules.api_keys.keys import ApiKeyHasher
from quoin.modules.auth.security import (
    TokenIssuer,
    api_key_owner_identity,
    build_auth,
    document_operation_security,
    token_user_identity,
)
from quoin.modules.auth.throttle import LoginThrottle
from quoin.modules.system.controller import HealthController, landing_page

__all__ = ["create_app"]

_PACKAGE_DIR = Path(__file__).parent


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the QuoinAPI application from ``settings`` (read from the environment by default)."""
    settings = settings or Settings.from_env()
    passwords = Passwords(settings.passwords)
    tracing = Tracing(settings.telemetry) if settings.telemetry.otel_enabled else None
    cipher = FieldCipher(settings.security.field_keys)
    db_config = sqlalchemy_config(
        settings.db, engine_hooks=[cipher.bind, watch_pool, *([tracing.instrument_engine] if tracing else [])]
    )
    api_key_hasher = ApiKeyHasher(settings.security.secret_key)
    auth = build_auth(settings.security.secret_key, db_config, api_key_hasher)
    token_issuer = TokenIssuer(auth, settings.security.access_token_ttl)
    limits = settings.rate_limit
    counter = window_counter(limits.redis_url)
    limiter = RateLimiter(counter)
    enabled_limiter = limiter if limits.rate_limit_enabled else None
    login_throttle = LoginThrottle(enabled_limiter, limits.login_rate_limit_per_minute, settings.security.secret_key)
    signup_limit = AddressLimit(
        enabled_limiter, "signup", limits.signup_rate_limit_per_minute, "Too many sign-ups; see Retry-After"
    )
    # Outermost first: `outer` runs before authentication (see _outermost), `inner` after it.
    outer: list[Middleware] = [RequestContextMiddleware()]
    if settings.http.hosts:
        outer.append(HostHeaderMiddleware(settings.http.hosts))
    inner: list[Middleware] = [tracing.middleware()] if tracing else []  # Litestar moves it outermost
    if limits.rate_limit_enabled:
        per_minute = limits.rate_limit_per_minute
        outer.append(RateLimitMiddleware(limiter, per_minute, token_user_identity(auth)))
        inner.append(RateLimitMiddleware(limiter, per_minute, api_key_owner_identity, by_address=False))
    return Litestar(
        route_handlers=[
            Router("/api/v1", route_handlers=API_V1_ROUTES),
            HealthController,
            landing_page,
            docs_page,
            create_static_files_router(
                STATIC_PREFIX, directories=[_PACKAGE_DIR / "static"], include_in_schema=False, opt=PUBLIC
            ),
        ],
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "api_key_hasher": Provide(lambda: api_key_hasher, use_cache=True, sync_to_thread=False),
            "token_issuer": Provide(lambda: token_issuer, use_cache=True, sync_to_thread=False),
            "rate_limiter": Provide(lambda: limiter, use_cache=True, sync_to_thread=False),
            "login_throttle": Provide(lambda: login_throttle, use_cache=True, sync_to_thread=False),
            "signup_limit": Provide(lambda: signup_limit, use_cache=True, sync_to_thread=False),
        },
        plugins=[
            SQLAlchemyPlugin(config=db_config),
            problem_details_plugin(),
            structlog_plugin(settings.app, echo_sql=settings.db.db_echo),
        ],
        middleware=inner,
        on_app_init=[auth.on_app_init, _outermost(outer)],
        before_request=require_declared_media_type,
        request_class=StrictJSONRequest,
        before_send=[
            refused_preflight_as_problem,  # first: the hooks after it read the content type
            add_request_id_header,
            security_headers(hsts=not settings.app.is_development),
            add_rate_limit_headers,
            observe_response,
        ],
        cors_config=cors_config(settings.http, development=settings.app.is_development),
        openapi_config=openapi_config(),
        on_startup=[
            database_waiter(db_config, settings.db.db_startup_timeout),
            drop_generated_error_responses,
            declare_closed_schemas,
            document_operation_security,
            freeze_startup_objects,
        ],
        on_shutdown=[_disposer(db_config), counter.close, passwords.close, *([tracing.shutdown] if tracing else [])],
        state=State({TRACING_STATE_KEY: tracing, PASSWORDS_STATE_KEY: passwords}),
        template_config=TemplateConfig(directory=_PACKAGE_DIR / "templates", engine=JinjaTemplateEngine),
        request_max_body_size=settings.app.request_max_body_size,
        debug=settings.app.debug,
    )


def _disposer(db_config: SQLAlchemyAsyncConfig) -> Callable[[], Awaitable[None]]:
    """Close the pool on shutdown.

    advanced-alchemy's lifespan disposes the engine only when its state key is
    the default one, which holds for the first config in a process alone; a
    second app (tests, or an app factory called twice) would keep its
    connections open.
    """

    async def dispose_engine() -> None:
        await db_config.get_engine().dispose()

    return dispose_engine


def _outermost(middleware: list[Middleware]) -> Callable[[AppConfig], AppConfig]:
    """An ``on_app_init`` hook putting ``middleware`` before the authentication middleware, which puts itself first."""

    def place(app_config: AppConfig) -> AppConfig:
        app_config.middleware[0:0] = middleware
        return app_config

    return place
