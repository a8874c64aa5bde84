"""A key never reaches the logs: not from the response that shows it, nor from the header that sends it."""

from __future__ import annotations

import uuid

import httpx
import structlog

from tests.modules.api_keys.expectations import API_KEYS
from tests.support.helpers import TOKEN, USERS, unique_email
from tests.support.logs import LogCapture


async def test_keys_and_tokens_never_reach_the_logs(client: httpx.AsyncClient, logs: LogCapture) -> None:
    email = unique_email("private")
    password = "Secret-Pa55word-" + uuid.uuid4().hex
    await client.post(USERS, json={"email": email, "password": password})
    token = (await client.post(TOKEN, data={"username": email, "password": password})).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    key = (await client.post(API_KEYS, json={"name": "secret-key"}, headers=bearer)).json()["key"]
    await client.get(f"{USERS}me", headers={"X-API-Key": key, "Cookie": f"session={token}"})
    await client.get("/api/v1/nowhere", headers={**bearer, "X-API-Key": key})  # 404
    structlog.get_logger("test").info("careless", authorization=token, api_key=key)

    text = "\n".join(logs.lines)
    assert len(logs.access()) == 5
    for secret in (password, token, key, email):
        assert secret not in text, secret
    [careless] = [e for e in logs.events() if e["event"] == "careless"]
    assert careless["authorization"] == careless["api_key"] == "[redacted]"
