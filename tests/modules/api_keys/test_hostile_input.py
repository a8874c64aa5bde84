"""Hostile key headers: refused with a 401 problem, never an error."""

from __future__ import annotations

import httpx
import pytest

from tests.modules.api_keys.expectations import API_KEYS
from tests.support.helpers import assert_problem


@pytest.mark.parametrize(
    "headers",
    [{"X-API-Key": "qk_" + "0" * 5000}, {"X-API-Key": "' OR 1=1 --"}, {"X-API-Key": ""}],
)
async def test_hostile_keys_are_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    encoded = {k: v.encode("utf-8") for k, v in headers.items()}

    response = await client.get(API_KEYS, headers=encoded)

    assert_problem(response, 401)
