"""HTTP routes for ``/api/v1/api-keys``: the caller's own keys."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from quoin.auth.principal import AuthenticatedRequest
from quoin.core.http.openapi import problem_responses
from quoin.core.pagination import Limit, Offset, Page
from quoin.db.contracts import to_struct
from quoin.modules.api_keys.deps import provide_api_keys_service
from quoin.modules.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPage, ApiKeyRead
from quoin.modules.api_keys.service import ApiKeyService

__all__ = ["ApiKeyController"]

ApiKeys = NamedDependency[ApiKeyService]


class ApiKeyController(Controller):
    """Keys for machine clients; each acts as the user who created it."""

    path = "/api-keys"
    tags = ["api-keys"]  # noqa: RUF012  # Litestar reads these as class attributes
    dependencies = {"api_keys_service": Provide(provide_api_keys_service, sync_to_thread=False)}  # noqa: RUF012

    @post(
        "/",
        operation_id="CreateApiKey",
        summary="Create an API key",
        status_code=HTTP_201_CREATED,
    )
    async def create_api_key(
        self, api_keys_service: ApiKeys, request: AuthenticatedRequest, data: JSONBody[ApiKeyCreate]
    ) -> ApiKeyCreated:
        """Create a key for the caller. The `key` is in this response only; store it now."""
        api_key, key = await api_keys_service.issue(request.user.id, data)
        return ApiKeyCreated(**msgspec.structs.asdict(to_struct(ApiKeyRead, api_key)), key=key)

    @get(
        "/",
        operation_id="ListApiKeys",
        summary="List your API keys",
    )
    async def list_api_keys(
        self, api_keys_service: ApiKeys, request: AuthenticatedRequest, limit: Limit = 20, offset: Offset = 0
    ) -> ApiKeyPage:
        """The caller's keys, newest first; secrets are never shown again."""
        keys, total = await api_keys_service.list_for(request.user.id, limit=limit, offset=offset)
        items = [to_struct(ApiKeyRead, api_key) for api_key in keys]
        return Page(items=items, total=total, limit=limit, offset=offset)

    @delete(
        "/{key_id:uuid}",
        operation_id="RevokeApiKey",
        summary="Revoke an API key",
        status_code=HTTP_204_NO_CONTENT,
        responses=problem_responses(404),
    )
    async def revoke_api_key(
        self,
        api_keys_service: ApiKeys,
        request: AuthenticatedRequest,
        key_id: Annotated[UUID, PathParameter(title="API key id")],
    ) -> None:
        """Revoke one of the caller's keys; it is refused at once, on every instance."""
        await api_keys_service.revoke(request.user.id, key_id)
