"""Settings of the apps the tests build: fast hashing, JSON logs, limits high enough for a whole suite."""

from __future__ import annotations

from sqlalchemy.engine import URL

from quoin.config import Settings

__all__ = ["FAST_HASHING", "JSON_LOGS", "ROOMY_LIMITS", "make_settings"]

# Cheap Argon2 parameters keep the suite fast; production defaults are tested separately.
FAST_HASHING = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1"}
# Tests read the production log format.
JSON_LOGS = {"LOG_FORMAT": "json"}
# Limits stay on (every request goes through them) but high enough for a whole suite from 127.0.0.1.
ROOMY_LIMITS = {
    "RATE_LIMIT_PER_MINUTE": "1000000",
    "LOGIN_RATE_LIMIT_PER_MINUTE": "1000000",
    "SIGNUP_RATE_LIMIT_PER_MINUTE": "1000000",
}


def make_settings(database_url: URL | str, **overrides: str) -> Settings:
    """Settings for a test app, independent of the caller's environment and ``.env``."""
    url = database_url if isinstance(database_url, str) else database_url.render_as_string(hide_password=False)
    environ = {"DATABASE_URL": url, **FAST_HASHING, **JSON_LOGS, **ROOMY_LIMITS, **overrides}
    return Settings.from_env(environ, env_file=None)
