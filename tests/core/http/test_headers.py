"""Security headers, CORS by environment, and accepted Host names."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.engine import URL

from quoin.core.http.openapi import STATIC_PREFIX
from tests.support.helpers import PRODUCTION, TOKEN, USERS, assert_problem, running_app
from tests.support.settings import make_settings


@pytest.mark.parametrize(
    "path", ["/api/v1/users/me", "/health/live", "/no/such/route", "/docs", "/", f"{STATIC_PREFIX}/css/site.css"]
)
async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_json_answers_allow_no_content_and_html_pages_only_their_own_origin(client: httpx.AsyncClient) -> None:
    api = await client.get("/health/live")
    docs = await client.get("/docs")

    assert api.headers["content-security-policy"].startswith("default-src 'none'")
    policy = docs.headers["content-security-policy"]
    assert policy.startswith("default-src 'self'")
    assert "unsafe-eval" not in policy
    assert "connect-src 'self'" in policy


async def test_api_answers_are_never_cached(client: httpx.AsyncClient) -> None:
    created = await client.post(USERS, json={"email": "cache@example.com", "password": "cache-me-not"})
    token = await client.post(TOKEN, data={"username": "cache@example.com", "password": "cache-me-not"})

    assert created.headers["cache-control"] == "no-store"
    assert token.headers["cache-control"] == "no-store"


async def test_hsts_only_outside_development(client: httpx.AsyncClient, database_url: URL) -> None:
    async with running_app(make_settings(database_url, **PRODUCTION)) as (_, production):
        in_production = await production.get("/health/live")

    assert in_production.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert "strict-transport-security" not in (await client.get("/health/live")).headers


async def test_development_allows_any_origin_without_credentials(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        USERS, headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    )
    simple = await client.get("/health/live", headers={"Origin": "https://anywhere.example"})

    assert preflight.status_code in {200, 204}
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers
    assert simple.headers["access-control-allow-origin"] == "*"


async def test_production_allows_only_the_configured_origins(database_url: URL) -> None:
    settings = make_settings(database_url, **PRODUCTION, CORS_ALLOW_ORIGINS="https://app.example.com")
    async with running_app(settings) as (_, client):
        allowed = await client.get("/health/live", headers={"Origin": "https://app.example.com"})
        other = await client.get("/health/live", headers={"Origin": "https://evil.example"})
        preflight = await client.options(
            USERS, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )

    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    "request_headers",
    [
        {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
         "Access-Control-Request-Headers": "X-Not-Allowed"},
    ],
)  # fmt: skip
async def test_a_refused_preflight_is_a_400_problem(database_url: URL, request_headers: dict[str, str]) -> None:
    settings = make_settings(database_url, **PRODUCTION, CORS_ALLOW_ORIGINS="https://app.example.com")
    async with running_app(settings) as (_, client):
        refused = await client.options(USERS, headers={**request_headers, "X-Request-ID": "preflight-1"})
        accepted = await client.options(
            USERS, headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
        )

    problem = assert_problem(refused, 400)
    assert problem["request_id"] == "preflight-1"
    assert problem["detail"].startswith("Cross-origin request refused")
    assert int(refused.headers["content-length"]) == len(refused.content)
    assert "access-control-allow-origin" not in refused.headers
    assert accepted.status_code == 204
    assert accepted.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_production_without_origins_sends_no_cors_headers(database_url: URL) -> None:
    async with running_app(make_settings(database_url, **PRODUCTION)) as (_, client):
        response = await client.get("/health/live", headers={"Origin": "https://app.example.com"})

    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    ("host", "status"),
    [("api.example.com", 200), ("API.EXAMPLE.COM:8443", 200), ("eu.edge.example.org", 200), ("evil.example", 400),
     ("example.org", 400), ("api.example.com.evil.example", 400)],
)  # fmt: skip
async def test_only_allowed_hosts_are_served(database_url: URL, host: str, status: int) -> None:
    settings = make_settings(database_url, ALLOWED_HOSTS="api.example.com, *.edge.example.org")
    async with running_app(settings) as (_, client):
        response = await client.get("/", headers={"Host": host})

    if status == 400:
        assert_problem(response, 400, detail="Invalid Host header")
    else:
        assert response.status_code == 200


async def test_health_probes_answer_whatever_the_host(database_url: URL) -> None:
    settings = make_settings(database_url, ALLOWED_HOSTS="api.example.com")
    async with running_app(settings) as (_, client):
        live = await client.get("/health/live", headers={"Host": "10.244.1.17:8000"})
        ready = await client.get("/health/ready", headers={"Host": "10.244.1.17:8000"})
        api = await client.get("/api/v1/users/me", headers={"Host": "10.244.1.17:8000"})

    assert live.status_code == 200
    assert ready.status_code == 200
    assert_problem(api, 400, detail="Invalid Host header")
