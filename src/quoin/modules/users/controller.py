"""HTTP routes for ``/api/v1/users``."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import LimitOffset, StatementFilter
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from quoin.auth.guards import requires_self_or_superuser, requires_superuser
from quoin.config import Settings
from quoin.core.errors import ForbiddenError
from quoin.core.http.openapi import problem_responses
from quoin.core.http.routes import PUBLIC
from quoin.core.pagination import Page
from quoin.core.ratelimit.limiter import AddressLimit
from quoin.db.contracts import to_struct
from quoin.modules.users.caller import UserRequest
from quoin.modules.users.deps import provide_signup_limit, provide_user_filters, provide_users_service
from quoin.modules.users.schemas import UserCreate, UserPage, UserRead, UserUpdate
from quoin.modules.users.service import UserService

__all__ = ["UserController"]

UserId = Annotated[UUID, PathParameter(title="User id", description="The user's UUID.")]
Users = NamedDependency[UserService]


class UserController(Controller):
    """Sign-up and user management."""

    path = "/users"
    tags = ["users"]  # noqa: RUF012  # Litestar reads these as class attributes
    dependencies = {  # noqa: RUF012
        "users_service": Provide(provide_users_service, sync_to_thread=False),
        "filters": Provide(provide_user_filters, sync_to_thread=False),
        "signup_limit": Provide(provide_signup_limit, sync_to_thread=False),
    }

    @post(
        "/",
        operation_id="CreateUser",
        summary="Sign up",
        status_code=HTTP_201_CREATED,
        opt=PUBLIC,
        responses=problem_responses(403, 409),
        response_headers=[ResponseHeader(name="Location", description="The new user's URL.", documentation_only=True)],
    )
    async def create_user(
        self,
        request: Request[Any, Any, Any],
        users_service: Users,
        settings: NamedDependency[Settings],
        signup_limit: NamedDependency[AddressLimit],
        data: JSONBody[UserCreate],
    ) -> Response[UserRead]:
        """Create an account; no credentials needed. 403 when sign-up is turned off (`SIGNUP_ENABLED=false`).

        Sign-ups are limited per client address (`SIGNUP_RATE_LIMIT_PER_MINUTE`; 429 with `Retry-After`).
        The response's `Location` header points at the new user.
        """
        if not settings.security.signup_enabled:
            raise ForbiddenError("Sign-up is disabled")
        await signup_limit.check(request.scope)  # before the password is hashed
        user = await users_service.register(data)
        location = request.app.route_reverse("get_user", user_id=user.id)
        return Response(
            to_struct(UserRead, user),
            status_code=HTTP_201_CREATED,
            headers={"Location": location},
        )

    @get(
        "/",
        operation_id="ListUsers",
        summary="List users (superuser)",
        guards=[requires_superuser],
        responses=problem_responses(403),
    )
    async def list_users(self, users_service: Users, filters: NamedDependency[list[StatementFilter]]) -> UserPage:
        """A page of users, filtered and sorted by the query parameters, with the total count."""
        users, total = await users_service.list_users(filters)
        page = next(f for f in filters if isinstance(f, LimitOffset))
        return Page(items=users, total=total, limit=page.limit, offset=page.offset)

    @get("/me", operation_id="GetCurrentUser", summary="Who am I")
    async def get_current_user(self, request: UserRequest) -> UserRead:
        """The authenticated caller's own account."""
        return request.user

    @get(
        "/{user_id:uuid}",
        name="get_user",
        operation_id="GetUser",
        summary="Get a user (self or superuser)",
        guards=[requires_self_or_superuser],
        responses=problem_responses(403, 404),
    )
    async def get_user(self, users_service: Users, user_id: UserId) -> UserRead:
        """One user by id."""
        return await users_service.get_public(user_id)

    @patch(
        "/{user_id:uuid}",
        operation_id="UpdateUser",
        summary="Update a user (self or superuser)",
        guards=[requires_self_or_superuser],
        responses=problem_responses(403, 404, 409),
    )
    async def update_user(
        self, request: UserRequest, users_service: Users, user_id: UserId, data: JSONBody[UserUpdate]
    ) -> UserRead:
        """Change any subset of a user's fields; fields not sent are left as they are.

        Only superusers may change `is_active` and `is_superuser`.
        """
        return await users_service.update_user(user_id, data, actor=request.user)

    @delete(
        "/{user_id:uuid}",
        operation_id="DeleteUser",
        summary="Delete a user (self or superuser)",
        status_code=HTTP_204_NO_CONTENT,
        guards=[requires_self_or_superuser],
        responses=problem_responses(403, 404),
    )
    async def delete_user(self, users_service: Users, user_id: UserId) -> None:
        """Delete a user for good, with their API keys; later calls for the same id answer 404."""
        await users_service.delete_user(user_id)
