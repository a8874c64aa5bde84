"""Typed settings read from the environment and an optional ``.env`` file.

Every setting is one environment variable; its name is the upper-cased field
name. Each group knows how to describe the config object it feeds, so the
app factory only wires groups together.
"""

from __future__ import annotations

import base64
import binascii
import enum
import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import msgspec
from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "DEVELOPMENT_ENCRYPTION_KEY",
    "DEVELOPMENT_SECRET_KEY",
    "AppSettings",
    "DatabaseSettings",
    "Environment",
    "HttpSettings",
    "LogFormat",
    "PasswordSettings",
    "RateLimitSettings",
    "SecuritySettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "TelemetrySettings",
]

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Environment(enum.StrEnum):
    """Where the process runs; anything but development is treated as production-like."""

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class _Group(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    """Base for settings groups: fields map to upper-case environment variables."""


class LogFormat(enum.StrEnum):
    """How log lines are rendered."""

    CONSOLE = "console"
    JSON = "json"


class AppSettings(_Group, frozen=True):
    """Application-wide behaviour."""

    env: Environment = Environment.DEVELOPMENT
    debug: bool = False
    log_level: Annotated[str, msgspec.Meta(pattern="^(?i:debug|info|warning|error|critical)$")] = "INFO"
    log_format: LogFormat | None = None
    request_max_body_size: PositiveInt = 1_048_576

    @property
    def is_development(self) -> bool:
        """True only in the development environment."""
        return self.env is Environment.DEVELOPMENT

    @property
    def effective_log_format(self) -> LogFormat:
        """``LOG_FORMAT`` if set, else console in development and JSON elsewhere."""
        if self.log_format is not None:
            return self.log_format
        return LogFormat.CONSOLE if self.is_development else LogFormat.JSON


class TracesSampler(enum.StrEnum):
    """OpenTelemetry's ``OTEL_TRACES_SAMPLER`` values; ``parentbased_*`` follow a caller's ``traceparent``."""

    ALWAYS_ON = "always_on"
    ALWAYS_OFF = "always_off"
    TRACEIDRATIO = "traceidratio"
    PARENTBASED_ALWAYS_ON = "parentbased_always_on"
    PARENTBASED_ALWAYS_OFF = "parentbased_always_off"
    PARENTBASED_TRACEIDRATIO = "parentbased_traceidratio"


class OtlpProtocol(enum.StrEnum):
    """OpenTelemetry's ``OTEL_EXPORTER_OTLP_PROTOCOL`` values this app can export with."""

    HTTP_PROTOBUF = "http/protobuf"
    GRPC = "grpc"


_GRPC_EXPORTER = "opentelemetry.exporter.otlp.proto.grpc"


class TelemetrySettings(_Group, frozen=True):
    """OpenTelemetry tracing, configured by OpenTelemetry's own environment variables."""

    otel_sdk_disabled: bool = False
    otel_service_name: str = "quoin"
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    otel_exporter_otlp_protocol: OtlpProtocol = OtlpProtocol.HTTP_PROTOBUF
    # With the default ratio of 1 this is OpenTelemetry's default, parentbased_always_on;
    # a ratio alone (OTEL_TRACES_SAMPLER_ARG=0.1) then samples new traces.
    otel_traces_sampler: TracesSampler = TracesSampler.PARENTBASED_TRACEIDRATIO
    otel_traces_sampler_arg: Annotated[float, msgspec.Meta(ge=0, le=1)] = 1.0

    @property
    def follows_parent(self) -> bool:
        """Whether a request continuing a caller's trace is traced as the caller decided."""
        return self.otel_traces_sampler.startswith("parentbased_")

    @property
    def new_trace_ratio(self) -> float:
        """The share of traces this app starts (all of them, for a sampler that ignores the caller)."""
        sampler = self.otel_traces_sampler.removeprefix("parentbased_")
        return {"always_on": 1.0, "always_off": 0.0}.get(sampler, self.otel_traces_sampler_arg)

    @property
    def traces_endpoint(self) -> str | None:
        """Where spans are exported, or None to export nothing (OTLP/HTTP appends ``/v1/traces``)."""
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint
        if self.otel_exporter_otlp_endpoint and self.otel_exporter_otlp_protocol is OtlpProtocol.GRPC:
            return self.otel_exporter_otlp_endpoint
        if self.otel_exporter_otlp_endpoint:
            return self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None

    def problem(self) -> str | None:
        """Why these settings cannot run, or None."""
        grpc = self.otel_exporter_otlp_protocol is OtlpProtocol.GRPC
        if grpc and self.traces_endpoint and importlib.util.find_spec(_GRPC_EXPORTER) is None:
            return (
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the package opentelemetry-exporter-otlp-proto-grpc, "
                "which is not installed; add it or use http/protobuf"
            )
        return None


_DRIVERS = frozenset({"postgresql+asyncpg", "sqlite+aiosqlite"})


class DatabaseSettings(_Group, frozen=True):
    """Where the database is and how the connection pool behaves."""

    database_url: str | None = None
    postgres_host: str | None = None
    postgres_port: Port = 5432
    postgres_user: str | None = None
    postgres_password: str | None = None
    postgres_db: str | None = None
    sqlite_path: str = "quoin.db"
    db_pool_size: PositiveInt = 20
    db_max_overflow: NonNegativeInt = 0
    db_pool_timeout: Seconds = 5.0
    db_pool_recycle: PositiveInt = 1800
    db_pool_pre_ping: bool = False
    db_connect_timeout: Seconds = 5.0
    db_echo: bool = False
    health_db_timeout: Seconds = 2.0
    db_startup_timeout: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 30.0

    @property
    def url(self) -> URL:
        """The SQLAlchemy URL: ``DATABASE_URL``, else ``POSTGRES_*``, else the embedded SQLite file."""
        if self.database_url:
            url = make_url(self.database_url)
            if url.drivername in {"postgres", "postgresql"}:
                url = url.set(drivername="postgresql+asyncpg")
            return url
        if any((self.postgres_host, self.postgres_user, self.postgres_password, self.postgres_db)):
            return URL.create(
                "postgresql+asyncpg",
                username=self.postgres_user or "postgres",
                password=self.postgres_password or None,
                host=self.postgres_host or "localhost",
                port=self.postgres_port,
                database=self.postgres_db or "quoin",
            )
        return URL.create("sqlite+aiosqlite", database=str(Path(self.sqlite_path).resolve()))

    @property
    def is_sqlite(self) -> bool:
        """True when running on the embedded SQLite file."""
        return self.url.get_backend_name() == "sqlite"

    def problem(self) -> str | None:
        """Why ``DATABASE_URL`` cannot be used, or None."""
        if not self.database_url:
            return None
        try:
            url = self.url
        except ArgumentError:
            return "invalid setting DATABASE_URL: not a URL; expected postgresql://user:password@host:port/database"
        if url.get_backend_name() not in {"postgresql", "sqlite"} or url.drivername not in _DRIVERS:
            return (
                f"invalid setting DATABASE_URL: {url.drivername!r} is not supported; "
                "use postgresql://… (asyncpg) or sqlite+aiosqlite:///…"
            )
        return None


class PasswordSettings(_Group, frozen=True):
    """Argon2id cost parameters (argon2-cffi's RFC 9106 low-memory profile by default)."""

    argon2_time_cost: PositiveInt = 3
    argon2_memory_cost: Annotated[int, msgspec.Meta(ge=8)] = 65_536
    argon2_parallelism: PositiveInt = 4
    # Hashes computed at once (each holds ARGON2_MEMORY_COST KiB); 0 = one per CPU.
    argon2_concurrency: NonNegativeInt = 0

    @property
    def concurrency(self) -> int:
        """How many hashes may run at once."""
        return self.argon2_concurrency or len(os.sched_getaffinity(0))


DEVELOPMENT_SECRET_KEY = "quoin-development-only-secret-never-use-in-production"  # noqa: S105
# A fixed Fernet key so development data survives restarts; refused outside development.
DEVELOPMENT_ENCRYPTION_KEY = "VLccOcaAA0KHLiwXRGVX-mvfqgMHO9hNIDGEm04OBxI="
_MIN_SECRET_BYTES = 32


class SecuritySettings(_Group, frozen=True):
    """Tokens, API keys and sign-up."""

    secret_key: str = DEVELOPMENT_SECRET_KEY
    access_token_ttl: Annotated[int, msgspec.Meta(ge=60, le=86_400)] = 900
    signup_enabled: bool = True
    encryption_keys: str = DEVELOPMENT_ENCRYPTION_KEY

    @property
    def field_keys(self) -> list[str]:
        """Fernet keys for encrypted columns, newest (the one that encrypts) first."""
        return [key.strip() for key in self.encryption_keys.split(",") if key.strip()]

    def problem_outside_development(self) -> str | None:
        """Why this configuration must not run in production, or None if it may."""
        if self.secret_key == DEVELOPMENT_SECRET_KEY:
            return "SECRET_KEY is the development default; set a random value of at least 32 bytes"
        if len(self.secret_key.encode()) < _MIN_SECRET_BYTES:
            return f"SECRET_KEY is shorter than {_MIN_SECRET_BYTES} bytes; set a random value of at least 32 bytes"
        if DEVELOPMENT_ENCRYPTION_KEY in self.field_keys:
            return "ENCRYPTION_KEYS holds the development key; set keys of your own (see README: Encryption)"
        return None


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32  # Fernet keys are 32 bytes
    except (ValueError, binascii.Error):
        return False


def _comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class HttpSettings(_Group, frozen=True):
    """Who may call from where: CORS, accepted host names, proxies trusted for client addresses."""

    cors_allow_origins: str = ""
    cors_allow_credentials: bool = False
    allowed_hosts: str = ""
    trusted_proxies: str = "127.0.0.1"

    @property
    def cors_origins(self) -> list[str]:
        """Origins allowed to call from a browser (``*`` for any)."""
        return _comma_list(self.cors_allow_origins)

    @property
    def hosts(self) -> list[str]:
        """Accepted ``Host`` header values (``*.example.com`` matches subdomains); empty accepts any."""
        return _comma_list(self.allowed_hosts)


class RateLimitSettings(_Group, frozen=True):
    """Per-caller request limits; shared through Redis when ``REDIS_URL`` is set."""

    rate_limit_enabled: bool = True
    rate_limit_per_minute: PositiveInt = 600
    login_rate_limit_per_minute: PositiveInt = 10
    signup_rate_limit_per_minute: PositiveInt = 10
    redis_url: str | None = None


class ServerSettings(_Group, frozen=True):
    """How ``quoin serve`` runs uvicorn."""

    host: str = "127.0.0.1"
    port: Port = 8000
    # Off: no metrics listener, and requests and the pool are not counted (no Prometheus to scrape them).
    metrics_enabled: bool = True
    # Not 9100, node_exporter's port on most monitored hosts; 9464 is OpenTelemetry's for an app's own metrics.
    metrics_port: Port = 9464
    workers: PositiveInt = 1
    drain_seconds: Annotated[float, msgspec.Meta(ge=0, le=600)] = 10.0
    shutdown_timeout: Annotated[int, msgspec.Meta(ge=1, le=600)] = 20


# Secrets may come from files instead (NAME_FILE=/run/secrets/…): Docker/Kubernetes secrets, never in the environment.
_FILE_SETTINGS = ("SECRET_KEY", "ENCRYPTION_KEYS", "POSTGRES_PASSWORD", "DATABASE_URL", "REDIS_URL")


def _read_setting_files(present: dict[str, str]) -> dict[str, str]:
    """``present`` with each ``NAME_FILE`` replaced by ``NAME``, read from that file (one trailing newline dropped)."""
    values = dict(present)
    for name in _FILE_SETTINGS:
        path = values.pop(f"{name}_FILE", None)
        if path is None:
            continue
        if name in values:
            raise SettingsError(f"invalid setting {name}_FILE: {name} is set too; set one of them")
        try:
            values[name] = Path(path).read_text(encoding="utf-8").removesuffix("\n").removesuffix("\r")
        except OSError as exc:
            raise SettingsError(f"invalid setting {name}_FILE: cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise SettingsError(f"invalid setting {name}_FILE: {path} is not UTF-8 text") from None
    return values


_GroupT = TypeVar("_GroupT", bound=_Group)
_PATH_IN_ERROR = re.compile(r"at `\$\.(\w+)`")


def _load_group(group: type[_GroupT], environ: Mapping[str, str]) -> _GroupT:
    try:
        return msgspec.convert(environ, group, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        found = _PATH_IN_ERROR.search(message)
        name = found.group(1) if found else group.__name__
        reason = _PATH_IN_ERROR.sub("", message).strip(" -")
        raise SettingsError(f"invalid setting {name}: {reason}") from None


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings, grouped by concern."""

    app: AppSettings
    db: DatabaseSettings
    passwords: PasswordSettings
    security: SecuritySettings
    http: HttpSettings
    rate_limit: RateLimitSettings
    server: ServerSettings
    telemetry: TelemetrySettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: str | None = ".env") -> Settings:
        """Read settings from ``environ`` (default ``os.environ``) over an optional ``.env`` file.

        Empty values count as unset. Raises ``SettingsError`` naming the first bad variable.
        """
        merged: dict[str, str] = {}
        if env_file and Path(env_file).is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        present = _read_setting_files({k: v for k, v in merged.items() if v != ""})
        settings = cls(
            app=_load_group(AppSettings, present),
            db=_load_group(DatabaseSettings, present),
            passwords=_load_group(PasswordSettings, present),
            security=_load_group(SecuritySettings, present),
            http=_load_group(HttpSettings, present),
            rate_limit=_load_group(RateLimitSettings, present),
            server=_load_group(ServerSettings, present),
            telemetry=_load_group(TelemetrySettings, present),
        )
        if problem := settings.problem():
            raise SettingsError(problem)
        return settings

    def problem(self) -> str | None:
        """The first reason these settings must not run, or None."""
        if not self.security.field_keys or not all(map(_is_fernet_key, self.security.field_keys)):
            return "invalid setting ENCRYPTION_KEYS: expected comma-separated url-safe base64 keys of 32 bytes"
        if reason := self.db.problem() or self.telemetry.problem():
            return reason
        if "*" in self.http.cors_origins and self.http.cors_allow_credentials:
            return "CORS_ALLOW_CREDENTIALS=true cannot be combined with CORS_ALLOW_ORIGINS=*; list the origins"
        if self.server.metrics_enabled and self.server.metrics_port == self.server.port:
            return "invalid setting METRICS_PORT: it must differ from PORT (metrics are never served on the API port)"
        if self.app.is_development:
            return None
        reason = self.security.problem_outside_development()
        if reason is None and self.app.debug:
            reason = "DEBUG=true exposes internals; turn it off"
        if reason is None and self.db.is_sqlite:
            # A forgotten DATABASE_URL must not become a private SQLite file per instance.
            reason = "no PostgreSQL configured (set DATABASE_URL or POSTGRES_HOST)"
        return f"refusing to start in {self.app.env}: {reason}" if reason else None
