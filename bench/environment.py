"""The environment the benchmarked processes run with: production settings, nothing inherited."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import get_type_hints

import msgspec
from cryptography.fernet import Fernet

from quoin.config import Settings

__all__ = ["BenchEnvironment"]

_GROUPS = tuple(get_type_hints(Settings).values())  # the settings groups, one per field
# The caller's own settings (a DATABASE_URL, ARGON2_* or REDIS_URL in the shell)
# must not leak into the measured processes.
_SETTING_NAMES = frozenset(field.encode_name for group in _GROUPS for field in msgspec.structs.fields(group))
_DROPPED_PREFIXES = ("OTEL_", "LITESTAR_", "QUOIN_")
# Rate limits stay on, as shipped, but no bench run may reach them: every 429 would be an error.
_NEVER_REFUSED = 1_000_000_000  # requests, logins and sign-ups per minute and caller or address


@dataclass(frozen=True)
class BenchEnvironment:
    """Settings for the app under test, as environment variables, plus the same settings parsed."""

    variables: dict[str, str]

    @classmethod
    def production(cls, database_url: str, redis_url: str) -> BenchEnvironment:
        """Production as users run it: JSON logs, metrics, auth, sampled tracing and rate limits (in Redis) on."""
        inherited = {
            name: value
            for name, value in os.environ.items()
            if name not in _SETTING_NAMES and not name.startswith(_DROPPED_PREFIXES)
        }
        return cls(
            {
                **inherited,
                "ENV": "production",
                "SECRET_KEY": secrets.token_urlsafe(48),
                "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "DATABASE_URL": database_url,
                "LOG_FORMAT": "json",
                "OTEL_SDK_DISABLED": "false",
                "OTEL_TRACES_SAMPLER_ARG": "0.1",
                "RATE_LIMIT_ENABLED": "true",
                "REDIS_URL": redis_url,
                "RATE_LIMIT_PER_MINUTE": str(_NEVER_REFUSED),
                "LOGIN_RATE_LIMIT_PER_MINUTE": str(_NEVER_REFUSED),
                "SIGNUP_RATE_LIMIT_PER_MINUTE": str(_NEVER_REFUSED),
                "WORKERS": "1",
                "DRAIN_SECONDS": "0",
                "HOST": "127.0.0.1",
            }
        )

    def overridden(self, overrides: dict[str, str]) -> BenchEnvironment:
        """The same with some variables replaced (``--app-env``: what-if runs)."""
        return BenchEnvironment({**self.variables, **overrides})

    def settings(self) -> Settings:
        """The settings the app will read from these variables (no ``.env`` file)."""
        return Settings.from_env(self.variables, env_file=None)
