"""Feature modules. Each is one folder; it joins the API through ``API_V1_ROUTES``."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from quoin.modules.api_keys.controller import ApiKeyController
from quoin.modules.auth.controller import AuthController
from quoin.modules.users.controller import UserController

__all__ = ["API_V1_ROUTES"]

# Remove a feature by deleting its folder and its line here.
API_V1_ROUTES: list[ControllerRouterHandler] = [
    UserController,
    AuthController,
    ApiKeyController,
]
