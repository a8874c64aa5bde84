"""Key-authenticated requests beside token ones on a tiny pool: each holds one connection at a time."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import URL

from tests.modules.api_keys.expectations import API_KEYS
from tests.support.helpers import make_account, running_app, sixty_four_at_once
from tests.support.settings import make_settings


@pytest.mark.parametrize("pool_size", [1, 2])
async def test_sixty_four_concurrent_key_and_token_requests_succeed_on_a_tiny_pool(
    database_url: URL, pool_size: int
) -> None:
    # A request holding two connections at once would deadlock a pool of one until the pool timeout: 503.
    settings = make_settings(database_url, DB_POOL_SIZE=str(pool_size), DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="5")
    async with running_app(settings) as (_, client):
        account = await make_account(client)
        created = await client.post(API_KEYS, json={"name": "load"}, headers=account.headers)
        key = {"X-API-Key": created.json()["key"]}
        statuses = await sixty_four_at_once(client, account, key)
    assert statuses == [200] * 64
