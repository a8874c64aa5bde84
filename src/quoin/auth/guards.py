"""Access rules checked before a handler runs (the caller is already authenticated).

They are coroutines: Litestar runs a plain function guard in a worker thread,
a thread hop on every request for a check that takes microseconds.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from quoin.auth.principal import Principal
from quoin.core.errors import ForbiddenError

__all__ = ["requires_self_or_superuser", "requires_superuser"]


async def requires_superuser(connection: ASGIConnection[Any, Principal, Any, Any], _: BaseRouteHandler) -> None:
    """Only superusers pass."""
    if not connection.user.is_superuser:
        raise ForbiddenError("This requires a superuser")


async def requires_self_or_superuser(connection: ASGIConnection[Any, Principal, Any, Any], _: BaseRouteHandler) -> None:
    """The user named by the ``user_id`` path parameter, or a superuser, pass."""
    user = connection.user
    if not user.is_superuser and connection.path_params.get("user_id") != user.id:
        raise ForbiddenError("You may only act on your own account")
