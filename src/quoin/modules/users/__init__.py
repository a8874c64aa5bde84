"""Users: accounts, sign-up, login and management; the caller every request acts for."""

from __future__ import annotations

from quoin.auth.principal import PrincipalSource
from quoin.feature import Feature
from quoin.modules.users.caller import load_caller
from quoin.modules.users.cli import users_group
from quoin.modules.users.controller import UserController
from quoin.modules.users.login_controller import AuthController

__all__ = ["FEATURE"]

FEATURE = Feature(
    name="users",
    api_routes=[UserController, AuthController],
    principal_source=PrincipalSource(load=load_caller, table="users"),
    commands=[users_group],
)
