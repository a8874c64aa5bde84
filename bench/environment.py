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


@dataclass(frozen=True)
class BenchEnvironment:
    """Settings for the app under test, as environment variables, plus the same settings parsed."""

    variables: dict[str, str]

    @classmethod
    def production(cls, database_url: str) -> BenchEnvironment:
        """Production as users run it: JSON logs, metrics, auth and sampled tracing on; rate limits off."""
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
                # Limits on, every run would measure 429s after the first 600 requests.
                "RATE_LIMIT_ENABLED": "false",
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
