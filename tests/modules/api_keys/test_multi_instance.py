"""Keys behind the balancer: a key made on one instance works on all, and revoked on one, is refused by all.

Run with ``./run test -m deployment``; it needs ``haproxy`` and ``redis-server``.
"""

from __future__ import annotations

import httpx
import pytest

from tests.modules.api_keys.expectations import API_KEYS
from tests.support.helpers import USERS, signed_up_token
from tests.support.loopback_cluster import LoopbackCluster

pytestmark = [pytest.mark.deployment, pytest.mark.process]


async def test_a_token_from_one_instance_works_on_all_and_a_key_revoked_on_one_is_refused_by_all(
    cluster: LoopbackCluster,
) -> None:
    first, second, third = cluster.instances
    async with httpx.AsyncClient(timeout=10) as client:
        async with httpx.AsyncClient(base_url=first.base, timeout=10) as on_first:
            token = await signed_up_token(on_first, "shared@example.com")
        bearer = {"Authorization": f"Bearer {token}"}
        with_token = [(await client.get(f"{i.base}{USERS}me", headers=bearer)).status_code for i in cluster.instances]
        created = await client.post(f"{second.base}{API_KEYS}", json={"name": "shared"}, headers=bearer)
        key = {"X-API-Key": created.json()["key"]}
        with_key = [(await client.get(f"{i.base}{USERS}me", headers=key)).status_code for i in cluster.instances]
        revoked = await client.delete(f"{third.base}{API_KEYS}{created.json()['id']}", headers=bearer)
        after = [(await client.get(f"{i.base}{USERS}me", headers=key)).status_code for i in cluster.instances]

    assert with_token == [200, 200, 200]
    assert created.status_code == 201
    assert with_key == [200, 200, 200]
    assert revoked.status_code == 204
    assert after == [401, 401, 401]
