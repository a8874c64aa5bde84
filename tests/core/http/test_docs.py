"""The OpenAPI document's own description of the API: who made it and under which licence."""

from __future__ import annotations

import httpx


async def test_the_document_names_its_licence(client: httpx.AsyncClient) -> None:
    info = (await client.get("/schema/openapi.json")).json()["info"]

    assert info["license"] == {"name": "MIT", "identifier": "MIT"}
