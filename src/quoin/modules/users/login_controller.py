"""``POST /api/v1/auth/token``: email and password in, a short-lived JWT out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency, Provide
from litestar.params import URLEncodedBody

from quoin.auth.authentication import TokenIssuer
from quoin.auth.openapi import ISSUES_TOKENS
from quoin.core.http.openapi import problem_responses
from quoin.core.http.routes import PUBLIC
from quoin.modules.users.deps import provide_login_throttle, provide_users_service
from quoin.modules.users.schemas import LoginForm, TokenResponse
from quoin.modules.users.service import UserService
from quoin.modules.users.throttle import LoginThrottle

__all__ = ["AuthController"]


class AuthController(Controller):
    """Logging in: the OAuth2 password flow."""

    path = "/auth"
    tags = ["auth"]  # noqa: RUF012  # Litestar reads these as class attributes
    dependencies = {  # noqa: RUF012
        "users_service": Provide(provide_users_service, sync_to_thread=False),
        "login_throttle": Provide(provide_login_throttle, sync_to_thread=False),
    }

    @post(
        "/token",
        operation_id="IssueToken",
        summary="Log in (OAuth2 password flow)",
        status_code=200,
        opt={**PUBLIC, **ISSUES_TOKENS},
        responses=problem_responses(401),  # wrong email or password (the common errors are added for every operation),
    )
    async def issue_token(
        self,
        data: URLEncodedBody[LoginForm],
        users_service: NamedDependency[UserService],
        token_issuer: NamedDependency[TokenIssuer],
        login_throttle: NamedDependency[LoginThrottle],
        request: Request[Any, Any, Any],
    ) -> Response[TokenResponse]:
        """Exchange an email (`username`) and password for a bearer token.

        A wrong email and a wrong password get the same 401, after the same work.
        Attempts are limited per client address and per email (429 with `Retry-After`).
        """
        await login_throttle.check(request.scope, data.username)
        user = await users_service.authenticate(data.username, data.password)
        return Response(
            TokenResponse(access_token=token_issuer.issue(user.id), expires_in=token_issuer.lifetime_seconds),
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )
