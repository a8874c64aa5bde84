"""A stricter limit on logins: per client address and per target email, against password guessing."""

from __future__ import annotations

import hashlib

from quoin.core.rate_limit import RateLimiter
from quoin.modules.users.schemas import normalize_email

__all__ = ["LoginThrottle"]

_DETAIL = "Too many login attempts; see Retry-After"


class LoginThrottle:
    """Counts every login attempt twice: by where it comes from and by which account it targets.

    The per-email count slows guessing one account's password from many
    addresses; the email is hashed so the counter store never holds it.
    """

    def __init__(self, limiter: RateLimiter | None, per_minute: int) -> None:
        self._limiter = limiter
        self._per_minute = per_minute

    async def check(self, client: str, email: str) -> None:
        """Raise ``TooManyRequestsError`` (429) when either count is over the limit."""
        if self._limiter is None:
            return
        account = hashlib.sha256(normalize_email(email).encode()).hexdigest()[:32]
        await self._limiter.enforce(f"login-client:{client}", self._per_minute, _DETAIL)
        await self._limiter.enforce(f"login-account:{account}", self._per_minute, _DETAIL)
