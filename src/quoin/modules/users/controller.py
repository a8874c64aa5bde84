"""HTTP routes for ``/api/v1/users``."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from advanced_alchemy.filters import StatementFilter
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from quoin.core.openapi import problem_responses
from quoin.modules.users.deps import provide_user_filters, provide_users_service
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
    }

    @post(
        "/",
        operation_id="CreateUser",
        summary="Sign up",
        status_code=HTTP_201_CREATED,
        responses=problem_responses(400, 409, 413, 422, 500, 503),
    )
    async def create_user(
        self, request: Request[Any, Any, Any], users_service: Users, data: JSONBody[UserCreate]
    ) -> Response[UserRead]:
        """Create a user account. The response's ``Location`` header points at the new user."""
        user = await users_service.register(data)
        location = request.app.route_reverse("get_user", user_id=user.id)
        return Response(
            users_service.to_schema(user, schema_type=UserRead),
            status_code=HTTP_201_CREATED,
            headers={"Location": location},
        )

    @get(
        "/",
        operation_id="ListUsers",
        summary="List users",
        responses=problem_responses(422, 500, 503),
    )
    async def list_users(self, users_service: Users, filters: NamedDependency[list[StatementFilter]]) -> UserPage:
        """A page of users, filtered and sorted by the query parameters, with the total count."""
        users, total = await users_service.list_users(filters)
        page = users_service.to_schema(users, total=total, filters=filters, schema_type=UserRead)
        return UserPage(items=list(page.items), total=page.total, limit=page.limit, offset=page.offset)

    @get(
        "/{user_id:uuid}",
        name="get_user",
        operation_id="GetUser",
        summary="Get a user",
        responses=problem_responses(404, 500, 503),
    )
    async def get_user(self, users_service: Users, user_id: UserId) -> UserRead:
        """One user by id."""
        return users_service.to_schema(await users_service.get_user(user_id), schema_type=UserRead)

    @patch(
        "/{user_id:uuid}",
        operation_id="UpdateUser",
        summary="Update a user",
        responses=problem_responses(400, 404, 409, 413, 422, 500, 503),
    )
    async def update_user(self, users_service: Users, user_id: UserId, data: JSONBody[UserUpdate]) -> UserRead:
        """Change any subset of a user's fields; fields not sent are left as they are."""
        user = await users_service.update_user(user_id, data)
        return users_service.to_schema(user, schema_type=UserRead)

    @delete(
        "/{user_id:uuid}",
        operation_id="DeleteUser",
        summary="Delete a user",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(404, 500, 503),
    )
    async def delete_user(self, users_service: Users, user_id: UserId) -> None:
        """Delete a user for good; later calls for the same id answer 404."""
        await users_service.delete_user(user_id)
