"""Route markers for authentication, shared by every module that declares routes."""

from __future__ import annotations

__all__ = ["OPERATIONAL_PATH_PREFIXES", "PUBLIC", "PUBLIC_OPT_KEY"]

# Handler ``opt`` key the authentication middleware skips; routes need credentials unless marked.
PUBLIC_OPT_KEY = "exclude_from_auth"
PUBLIC = {PUBLIC_OPT_KEY: True}

# Probes, scrapes and docs: public, never rate limited, logged at debug only.
OPERATIONAL_PATH_PREFIXES = ("/health/", "/metrics", "/docs", "/schema", "/static/")
