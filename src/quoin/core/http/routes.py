"""Route markers for authentication, shared by every module that declares routes."""

from __future__ import annotations

__all__ = ["OPERATIONAL_PATH_PREFIXES", "PUBLIC", "PUBLIC_OPT_KEY"]

# Handler ``opt`` key the authentication middleware skips; routes need credentials unless marked.
PUBLIC_OPT_KEY = "exclude_from_auth"
PUBLIC = {PUBLIC_OPT_KEY: True}

# Probes and docs: public, never rate limited, logged at debug only. (Metrics have a port of their own.)
OPERATIONAL_PATH_PREFIXES = ("/health/", "/docs", "/schema", "/static/")
