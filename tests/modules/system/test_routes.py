"""Operational routes, request ids, docs and the OpenAPI document."""

from __future__ import annotations

import asyncio
import gzip
import re
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from sqlalchemy import event
from sqlalchemy.engine import URL

from quoin import __version__
from quoin.config import Settings
from quoin.core.http.openapi import STATIC_PREFIX
from quoin.db.changes import ChangeFeed
from quoin.feature import credential_resolvers
from quoin.modules import FEATURES
from tests.support.expectations import registered
from tests.support.helpers import USERS, assert_problem, engine_of, running_app
from tests.support.settings import make_settings


async def test_liveness_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_is_ok_when_the_database_answers_and_reports_redis_off_without_redis_url(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "redis": "off"}


# --- request ids --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health/live", USERS, "/no/such/route", "/docs", "/"])
async def test_every_response_carries_a_fresh_request_id(client: httpx.AsyncClient, path: str) -> None:
    first = await client.get(path)
    second = await client.get(path)

    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_sane_caller_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    sent = "trace-ABC_123.def-" + "x" * 110

    response = await client.get("/health/live", headers={"X-Request-ID": sent})

    assert response.headers["x-request-id"] == sent


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", "ünïcode", "", "a/b"])
async def test_an_insane_caller_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": bad.encode()})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_an_error_carries_the_request_id_in_header_and_body(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere", headers={"X-Request-ID": "req-42"})

    problem = assert_problem(response, 404)
    assert problem["request_id"] == "req-42"


# --- docs and landing page ----------------------------------------------------------------


async def test_docs_page_loads_only_assets_served_by_the_app(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    referenced = re.findall(r"""(?:src|href|data-url)=["']([^"']+)["']""", html)
    assert referenced, html
    assert all(url.startswith("/") and not url.startswith("//") for url in referenced), referenced
    assert "http://" not in html
    assert "https://" not in html
    for url in referenced:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content


@pytest.mark.parametrize(
    "path",
    ["/schema/nope", "/schema/openapi.yaml", "/schema/swagger", "/schema/a/b", "/docs/x", f"{STATIC_PREFIX}/nope.js"],
)
async def test_an_unknown_docs_path_is_a_404_problem(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path), 404)


@pytest.mark.parametrize("path", ["/schema", "/schema/", "/schema/scalar", "/docs"])
async def test_the_docs_pages_are_served_under_schema_too(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_the_vendored_scalar_script_is_served_compressed_and_cached_for_a_year(
    client: httpx.AsyncClient,
) -> None:
    script = f"{STATIC_PREFIX}/vendor/scalar/standalone.js"
    async with client.stream("GET", script, headers={"Accept-Encoding": "gzip"}) as response:
        sent = b"".join([chunk async for chunk in response.aiter_raw()])
    plain = await client.get(script, headers={"Accept-Encoding": "identity"})

    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["content-encoding"] == "gzip"
    assert len(plain.content) > 1_000_000
    assert len(sent) < len(plain.content) / 2
    assert set(response.headers["cache-control"].split(", ")) == {"public", "max-age=31536000", "immutable"}
    assert "content-encoding" not in plain.headers
    assert gzip.decompress(sent) == plain.content


async def test_static_paths_carry_the_version_and_api_answers_are_not_compressed(client: httpx.AsyncClient) -> None:
    unversioned = await client.get("/static/css/site.css")
    api = await client.get("/health/live", headers={"Accept-Encoding": "gzip"})

    assert f"/static/{__version__}" == STATIC_PREFIX
    assert unversioned.status_code == 404
    assert "content-encoding" not in api.headers


async def test_landing_page_links_to_the_docs_and_its_stylesheet(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in response.text
    assert f'href="{STATIC_PREFIX}/css/site.css"' in response.text
    assert (await client.get(f"{STATIC_PREFIX}/css/site.css")).status_code == 200


# --- OpenAPI ------------------------------------------------------------------------------


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_openapi_is_version_3_1(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1")
    assert openapi["info"]["title"] == "QuoinAPI"


@pytest.mark.parametrize("secret", ["hashed_password", "sa_orm_sentinel", "password_hash"])
def test_openapi_exposes_no_internal_column(openapi: dict[str, Any], secret: str) -> None:
    schemas = openapi["components"]["schemas"]
    response_schemas = {name: s for name, s in schemas.items() if name not in {"UserCreate", "UserUpdate"}}
    document = str(openapi)

    assert secret not in str(response_schemas)
    assert secret not in document or secret == "password_hash"


def test_openapi_user_schema_is_exactly_the_public_fields(openapi: dict[str, Any]) -> None:
    user_schemas = [s for name, s in openapi["components"]["schemas"].items() if name.endswith("UserRead")]

    assert user_schemas
    for schema in user_schemas:
        assert set(schema["properties"]) == {
            "id", "email", "full_name", "is_active", "is_superuser", "created_at", "updated_at"
        }  # fmt: skip


EXPECTATIONS = registered()
DOCUMENTED_ERRORS = {operation: errors for e in EXPECTATIONS for operation, errors in e.documented_errors.items()}
PUBLIC_OPERATIONS = {operation for e in EXPECTATIONS for operation in e.public}


@pytest.mark.parametrize(("path", "method"), list(DOCUMENTED_ERRORS))
def test_openapi_documents_every_error_status_as_problem_details(
    openapi: dict[str, Any], path: str, method: str
) -> None:
    responses = openapi["paths"][path][method]["responses"]
    errors = {code: spec for code, spec in responses.items() if code.startswith(("4", "5"))}

    assert set(errors) == DOCUMENTED_ERRORS[(path, method)]
    for spec in errors.values():
        assert list(spec["content"]) == ["application/problem+json"]


def test_openapi_documents_the_redis_field_of_readiness(openapi: dict[str, Any]) -> None:
    reference = openapi["paths"]["/health/ready"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schema = openapi["components"]["schemas"][reference["$ref"].rsplit("/", 1)[1]]

    assert schema["properties"]["redis"]["enum"] == ["ok", "unavailable", "off"]
    assert "never makes the instance unready" in schema["properties"]["redis"]["description"]
    assert set(schema["required"]) == {"status", "redis"}


def test_every_operation_of_the_app_is_documented_and_expected_by_its_feature(
    app: Litestar, openapi: dict[str, Any]
) -> None:
    served = {
        (route.path_format, method.lower())
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if handler.resolve_include_in_schema()
        for method in handler.http_methods
    }
    documented = {(path, method) for path, item in openapi["paths"].items() for method in item}

    assert documented == served
    assert documented == set(DOCUMENTED_ERRORS)
    assert len(DOCUMENTED_ERRORS) == sum(len(e.documented_errors) for e in EXPECTATIONS)  # no feature claims another's


def registered_schemes(settings: Settings) -> list[str]:
    """The bearer token's scheme, then each registered credential's, in feature order."""
    return [
        "OAuth2PasswordBearer",
        *(resolver.scheme_name for resolver in credential_resolvers(FEATURES, settings, ChangeFeed(None))),
    ]


@pytest.mark.parametrize(("path", "method"), list(DOCUMENTED_ERRORS))
def test_openapi_states_the_credentials_of_every_operation(
    openapi: dict[str, Any], settings: Settings, path: str, method: str
) -> None:
    security = openapi["paths"][path][method]["security"]

    if (path, method) in PUBLIC_OPERATIONS:
        assert security == []
    else:
        assert security == [{scheme: []} for scheme in registered_schemes(settings)]


def test_openapi_declares_the_password_flow_and_every_registered_credential(
    openapi: dict[str, Any], settings: Settings
) -> None:
    schemes = openapi["components"]["securitySchemes"]

    assert list(schemes) == registered_schemes(settings)
    assert schemes["OAuth2PasswordBearer"]["type"] == "oauth2"
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    for resolver in credential_resolvers(FEATURES, settings, ChangeFeed(None)):
        assert schemes[resolver.scheme_name] == resolver.scheme.to_schema()


def test_openapi_list_parameters_use_the_contract_names(openapi: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in openapi["paths"]["/api/v1/users"]["get"]["parameters"]}

    assert set(parameters) == {"limit", "offset", "email", "search", "is_active", "order_by", "sort"}
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["limit"]["schema"]["maximum"] == 100


async def test_an_app_closes_its_database_connections_when_it_stops(app: Litestar, database_url: URL) -> None:
    # `app` makes sure another app already runs in this process: the case advanced-alchemy's own cleanup misses.
    opened: list[Any] = []
    async with running_app(make_settings(database_url)) as (second_app, client):
        engine = engine_of(second_app)
        event.listen(engine.sync_engine, "connect", lambda connection, _: opened.append(connection))
        # Concurrent requests: the pool opens new connections (start-up already left one in it).
        answers = await asyncio.gather(*(client.get("/health/ready") for _ in range(4)))
        assert {answer.status_code for answer in answers} == {200}

    assert opened
    assert all(connection._connection.is_closed() for connection in opened)  # the asyncpg connections
    assert engine.pool.checkedin() == 0
