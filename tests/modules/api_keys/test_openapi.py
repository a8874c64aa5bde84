"""The API key in the OpenAPI document: a header scheme that every protected operation accepts."""

from __future__ import annotations

from typing import Any

import httpx


async def test_openapi_declares_the_api_key_header_and_protected_operations_accept_it(
    client: httpx.AsyncClient,
) -> None:
    openapi: dict[str, Any] = (await client.get("/schema/openapi.json")).json()
    schemes = openapi["components"]["securitySchemes"]

    assert schemes["APIKeyHeader"] == {**schemes["APIKeyHeader"], "type": "apiKey", "name": "X-API-Key", "in": "header"}
    for path in ("/api/v1/api-keys", "/api/v1/users/me"):
        assert openapi["paths"][path]["get"]["security"] == [{"OAuth2PasswordBearer": []}, {"APIKeyHeader": []}]
