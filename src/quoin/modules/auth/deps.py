"""Dependency providers for authenticated handlers."""

from __future__ import annotations

from typing import Any

from litestar import Request

from quoin.modules.users.schemas import UserRead

__all__ = ["provide_current_user"]


def provide_current_user(request: Request[UserRead, Any, Any]) -> UserRead:
    """The authenticated caller (routes marked public never ask for it)."""
    return request.user
