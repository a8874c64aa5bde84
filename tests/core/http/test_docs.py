"""The OpenAPI document as a docs page reader sees it: licence, errors, headers, descriptions and examples."""

from __future__ import annotations

import json

import httpx

from quoin.core.http.openapi import ERROR_DESCRIPTIONS
from tests.support.documentation import example_of


async def test_the_document_names_its_licence(client: httpx.AsyncClient) -> None:
    info = (await client.get("/schema/openapi.json")).json()["info"]

    assert info["license"] == {"name": "MIT", "identifier": "MIT"}


async def test_every_error_response_says_when_it_happens(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    operations = [op for item in document["paths"].values() for op in item.values() if isinstance(op, dict)]
    errors = [(status, response) for op in operations for status, response in op["responses"].items() if status >= "4"]

    assert errors
    for status, response in errors:
        assert response["description"] == ERROR_DESCRIPTIONS[int(status)]


async def test_the_headers_answers_carry_are_documented(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    sign_up = paths["/api/v1/users"]["post"]["responses"]
    me = paths["/api/v1/users/me"]["get"]["responses"]
    live = paths["/health/live"]["get"]["responses"]

    assert {"X-Request-ID", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        sign_up["201"]["headers"]
    )
    assert "Retry-After" in sign_up["429"]["headers"]
    assert "Retry-After" in sign_up["503"]["headers"]
    assert "WWW-Authenticate" in me["401"]["headers"]
    assert set(live["200"]["headers"]) == {"X-Request-ID"}  # probes are not rate limited


async def test_component_schemas_carry_their_descriptions(client: httpx.AsyncClient) -> None:
    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]

    assert schemas["Problem"]["description"].startswith("RFC 9457 problem details")
    assert all(schema.get("description") for schema in schemas.values()), [
        name for name, schema in schemas.items() if not schema.get("description")
    ]


async def test_the_common_errors_are_documented_without_being_listed_by_hand(client: httpx.AsyncClient) -> None:
    # Neither handler lists an error: the document derives them from what each operation is.
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    me = paths["/api/v1/users/me"]["get"]["responses"]  # protected, no body, no query parameters
    sign_up = paths["/api/v1/users"]["post"]["responses"]  # public, with a body; lists its own 403 and 409

    assert set(me) == {"200", "401", "429", "500", "503"}
    assert set(sign_up) == {"201", "400", "403", "409", "413", "415", "422", "429", "500", "503"}
    assert me["401"]["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


async def test_the_sign_up_documents_the_location_of_the_new_user(client: httpx.AsyncClient) -> None:
    created = (await client.get("/schema/openapi.json")).json()["paths"]["/api/v1/users"]["post"]["responses"]["201"]

    assert created["headers"]["Location"]["description"] == "The new user's URL."


async def test_every_body_and_success_answer_shows_a_realistic_example(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    bodies = [
        (f"{method.upper()} {path} {part}", media["schema"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for part, described in [
            ("request", operation.get("requestBody", {})),
            *((status, answer) for status, answer in operation["responses"].items() if status.startswith("2")),
        ]
        for media in described.get("content", {}).values()
    ]

    assert bodies
    for where, schema in bodies:
        missing: list[str] = []
        example = example_of(document, schema, missing=missing)
        assert not missing, f"{where}: no example for {missing}"
        assert '"string"' not in json.dumps(example), f"{where}: a placeholder in {example}"
