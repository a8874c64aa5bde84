"""The caller as every feature may rely on it: an active user, with an id and a superuser flag."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["AuthenticatedRequest", "Principal", "PrincipalLoader", "PrincipalSource"]


class Principal(Protocol):
    """What authentication guarantees about ``request.user``; the users feature's own type carries more."""

    @property
    def id(self) -> UUID:
        """The user's id."""
        ...

    @property
    def is_superuser(self) -> bool:
        """Whether the user may act on every account."""
        ...


# The active user with this id, or None (unknown or deactivated).
PrincipalLoader = Callable[[AsyncSession, UUID], Awaitable[Principal | None]]


@dataclass(frozen=True)
class PrincipalSource:
    """Where callers come from, as the feature that keeps users provides it.

    ``load`` reads the caller; ``table`` is the table whose announced changes
    (``quoin.db.changes``, keyed by user id) make a remembered caller stale.
    """

    load: PrincipalLoader
    table: str


# A handler takes `request: AuthenticatedRequest` and reads `request.user`. The caller is not a
# dependency of its own: beside a handler's service it would make Litestar resolve the two in an
# anyio task group, a measurable share of a request (docs/performance.md).
AuthenticatedRequest = Request[Principal, Any, Any]
