"""Keys remembered per instance: no query for a known key, and a revocation or new expiry seen at once everywhere."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import URL

from tests.modules.api_keys.expectations import API_KEYS
from tests.support.helpers import USERS, engine_of, login, sign_up, sqlalchemy_statements, unique_email
from tests.support.instances import Instance, answers_from_memory, refused_after, two_instances

ME = f"{USERS}me"


async def _key(instance: Instance) -> tuple[dict[str, object], dict[str, str]]:
    """A new user's bearer headers and a key of theirs."""
    user = await sign_up(instance.client, unique_email("remembered-key"))
    bearer = await login(instance.client, str(user["email"]))
    created = await instance.client.post(API_KEYS, json={"name": "remembered"}, headers=bearer)
    assert created.status_code == 201, created.text
    return created.json(), bearer


async def test_a_known_key_costs_no_query(own_database: URL) -> None:
    async with two_instances(own_database) as (a, _b, _engine):
        key, _ = await _key(a)
        headers = {"X-API-Key": str(key["key"])}
        assert (await a.client.get(ME, headers=headers)).status_code == 200  # now known, its use recorded

        with sqlalchemy_statements(engine_of(a.app)) as statements:
            answers = [await a.client.get(ME, headers=headers) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert statements == []


async def test_a_key_revoked_on_one_instance_is_refused_by_the_other_within_100_ms(own_database: URL) -> None:
    async with two_instances(own_database) as (a, b, _engine):
        key, bearer = await _key(a)
        headers = {"X-API-Key": str(key["key"])}
        await answers_from_memory(b, headers)  # B knows the key

        revoked = await a.client.delete(f"{API_KEYS}{key['id']}", headers=bearer)
        on_a = await a.client.get(ME, headers=headers)
        delay = await refused_after(lambda: b.client.get(ME, headers=headers))

    print(f"\nrevoked on A, refused by B after {delay * 1000:.1f} ms")
    assert revoked.status_code == 204
    assert on_a.status_code == 401  # the instance that revoked it: at once
    assert delay < 0.1


async def test_a_key_expired_in_the_database_is_refused_by_every_instance_within_100_ms(own_database: URL) -> None:
    async with two_instances(own_database) as (a, b, engine):
        key, _ = await _key(a)
        headers = {"X-API-Key": str(key["key"])}
        for instance in (a, b):
            await answers_from_memory(instance, headers)

        async with engine.connect() as connection:
            expire = text("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :id")
            await connection.execute(expire, {"id": key["id"]})
        delays = [await refused_after(lambda i=i: i.client.get(ME, headers=headers)) for i in (a, b)]

    assert max(delays) < 0.1
