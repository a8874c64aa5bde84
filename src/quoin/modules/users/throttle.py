"""A stricter limit on logins: per client address and per target email, against password guessing."""

from __future__ import annotations

import hashlib
import hmac

from litestar.types import Scope

from quoin.core.ratelimit.limiter import AddressLimit, RateLimiter
from quoin.modules.users.schemas import normalize_email

__all__ = ["LoginThrottle"]

_DETAIL = "Too many login attempts; see Retry-After"


class LoginThrottle:
    """Counts every login attempt twice: by where it comes from and by which account it targets.

    The per-email count slows guessing one account's password from many
    addresses. The email is keyed with an HMAC under a secret derived from
    ``SECRET_KEY``, so the counter store holds nothing a dictionary reverses.
    The price of a per-account count: anyone can keep one account's logins
    at 429 for a window by failing on purpose, from however few addresses.
    """

    def __init__(self, limiter: RateLimiter | None, per_minute: int, secret_key: str) -> None:
        self._limiter = limiter
        self._per_minute = per_minute
        self._per_address = AddressLimit(limiter, "login-client", per_minute, _DETAIL)
        self._key = hmac.digest(secret_key.encode(), b"quoin login throttle", hashlib.sha256)

    async def check(self, scope: Scope, email: str) -> None:
        """Raise ``TooManyRequestsError`` (429) when either count is over the limit."""
        if self._limiter is None:
            return
        account = hmac.new(self._key, normalize_email(email).encode(), hashlib.sha256).hexdigest()[:32]
        await self._per_address.check(scope)
        await self._limiter.enforce(f"login-account:{account}", self._per_minute, _DETAIL)
