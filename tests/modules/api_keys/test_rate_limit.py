"""Keys and rate limits: a known key is limited as its owner, any other as the caller's address; one count each."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import URL

from tests.modules.api_keys.expectations import API_KEYS
from tests.support.helpers import PASSWORD, USERS, login, sign_up, unique_email
from tests.support.limits import app_for, client_of, limited
from tests.support.redis_server import PrivateRedis


async def test_made_up_api_keys_count_against_the_callers_address(own_database: URL) -> None:
    async with app_for(limited(own_database)) as application, client_of(application, "198.51.100.9") as client:
        answers = [await client.get(f"{USERS}me", headers={"X-API-Key": f"qk_{i:012x}_{'A' * 43}"}) for i in range(4)]
        sign_ups = [
            await client.post(USERS, json={"email": unique_email(), "password": PASSWORD}, headers={"X-API-Key": "x"})
            for _ in range(2)
        ]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert [s.status_code for s in sign_ups] == [429, 429]


async def test_all_keys_of_a_user_share_the_users_budget(own_database: URL) -> None:
    settings = limited(own_database, RATE_LIMIT_PER_MINUTE="4", LOGIN_RATE_LIMIT_PER_MINUTE="100")
    async with app_for(settings) as application, client_of(application, "192.0.2.30") as setup:
        user = await sign_up(setup, unique_email("keys"))
        headers = await login(setup, user["email"])
        keys = [(await setup.post(API_KEYS, json={"name": f"k{i}"}, headers=headers)).json()["key"] for i in range(2)]
        first_uses, statuses = [], []
        for i, key in enumerate(keys):  # not yet known to this instance: each counts as its address
            async with client_of(application, f"198.51.100.{20 + i}") as caller:
                first_uses.append((await caller.get(f"{USERS}me", headers={"X-API-Key": key})).status_code)
        for i in range(5):  # alternate keys and addresses: only the owner is common to them all
            async with client_of(application, f"203.0.113.{100 + i}") as caller:
                statuses.append((await caller.get(f"{USERS}me", headers={"X-API-Key": keys[i % 2]})).status_code)

    # The two key creations (bearer) spent 2 of the owner's 4; each address is fresh, so only the owner limits.
    assert first_uses == [200, 200]
    assert statuses == [200, 200, 429, 429, 429]


@pytest.mark.process
async def test_each_request_costs_one_redis_round_trip_whatever_its_credential(
    own_database: URL, redis_url: tuple[str, PrivateRedis | None]
) -> None:
    url, _ = redis_url
    settings = limited(own_database, RATE_LIMIT_PER_MINUTE="1000", REDIS_URL=url)
    redis = Redis.from_url(url)
    async with app_for(settings) as application, client_of(application, "192.0.2.77") as client:
        user = await sign_up(client, unique_email("round-trips"))
        bearer = await login(client, user["email"])
        key = {"X-API-Key": (await client.post(API_KEYS, json={"name": "k"}, headers=bearer)).json()["key"]}
        assert (await client.get(f"{USERS}me", headers=key)).status_code == 200  # the key is now known
        await redis.config_resetstat()
        statuses = [
            (await client.get(f"{USERS}me", headers=h)).status_code for h in (bearer, key, {}) for _ in range(5)
        ]
        commands = await redis.info("commandstats")
    await redis.aclose()

    assert statuses == [200] * 10 + [401] * 5
    calls = {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in commands.items()}
    assert calls["evalsha"] == 15  # one round trip per request: the counting script
    assert calls["incr"] == 15  # which counts each request once
    assert set(calls) <= {"evalsha", "incr", "ttl", "expire", "info", "config|resetstat"}  # nothing else was asked
