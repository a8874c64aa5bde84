"""Several instances behind the compose balancer, on loopback: shared state and a drain under load.

Run with ``./run test -m deployment -rP`` (``.ci/run`` does); it needs
``haproxy`` and ``redis-server``. The last test sends SIGTERM to one instance
and must stay last: the cluster is shared by the module.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.support.helpers import PASSWORD, TOKEN, USERS, signed_up_token
from tests.support.load import Load
from tests.support.loopback_cluster import CLUSTER_LOGIN_LIMIT, Instance, LoopbackCluster
from tests.support.redis_server import PrivateRedis

pytestmark = [pytest.mark.deployment, pytest.mark.process]


def served(cluster: LoopbackCluster) -> dict[str, int]:
    """API requests each instance has logged so far."""
    return {i.address: len(i.access()) for i in cluster.instances}


async def test_requests_spread_over_every_instance(cluster: LoopbackCluster) -> None:
    async with httpx.AsyncClient(base_url=cluster.lb, timeout=10) as client:
        token = await signed_up_token(client, "spread@example.com")
        before = served(cluster)
        answers = [await client.get(f"{USERS}me", headers={"Authorization": f"Bearer {token}"}) for _ in range(30)]
    after = served(cluster)

    per_instance = {address: after[address] - before[address] for address in after}
    print(f"\n30 requests through the balancer, per instance: {per_instance}")
    assert {a.status_code for a in answers} == {200}
    assert sum(per_instance.values()) == 30
    assert all(count >= 5 for count in per_instance.values()), per_instance


async def test_a_token_from_one_instance_works_on_all(cluster: LoopbackCluster) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        async with httpx.AsyncClient(base_url=cluster.instances[0].base, timeout=10) as on_first:
            token = await signed_up_token(on_first, "shared@example.com")
        bearer = {"Authorization": f"Bearer {token}"}
        with_token = [(await client.get(f"{i.base}{USERS}me", headers=bearer)).status_code for i in cluster.instances]

    assert with_token == [200, 200, 200]


async def test_rate_limits_are_shared_by_every_instance(cluster: LoopbackCluster) -> None:
    # The instances believe X-Forwarded-For from 127.0.0.1: a client address of this test's own.
    client_address = {"X-Forwarded-For": "198.51.100.77"}
    form = {"username": "nobody@example.com", "password": "wrong password"}
    rotation = itertools.cycle(cluster.instances)
    async with httpx.AsyncClient(timeout=10) as client:
        answers = [
            await client.post(f"{next(rotation).base}{TOKEN}", data=form, headers=client_address)
            for _ in range(CLUSTER_LOGIN_LIMIT + 1)
        ]

    assert [a.status_code for a in answers] == [401] * CLUSTER_LOGIN_LIMIT + [429]
    assert int(answers[-1].headers["retry-after"]) > 0


# The spellings of /metrics a client could try to slip past a path rule.
METRICS_PATH_TRICKS = [
    "/metrics",
    "/metrics/",
    "//metrics",
    "/%6detrics",
    "/metrics%2f",
    "/%2fmetrics",
    "/x/../metrics",
]


async def raw_get(base: str, path: str) -> tuple[int, str]:
    """``GET path`` written on a socket exactly as given (HTTP clients resolve ``..`` themselves); status and body."""
    url = httpx.URL(base)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: quoin\r\nConnection: close\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), 10)  # to the end: the server closes
    writer.close()
    head, _, body = answer.decode(errors="replace").partition("\r\n\r\n")
    return int(head.split()[1]), body


async def test_no_spelling_of_metrics_passes_the_balancer_while_each_metrics_port_serves_them(
    cluster: LoopbackCluster,
) -> None:
    through_lb = {path: await raw_get(cluster.lb, path) for path in METRICS_PATH_TRICKS}
    async with httpx.AsyncClient(timeout=10) as client:
        on_api_ports = [await client.get(f"{i.base}/metrics") for i in cluster.instances]
        scraped = [await client.get(i.metrics) for i in cluster.instances]

    print("\nthrough the balancer: " + ", ".join(f"{path} {status}" for path, (status, _) in through_lb.items()))
    assert {status for status, _ in through_lb.values()} == {404}
    assert not [path for path, (_, body) in through_lb.items() if "quoin_http_requests" in body]
    # Refused by the balancer's own rule (its HTML page), before any instance saw them.
    assert not [path for path, (_, body) in through_lb.items() if "<h1>404 Not Found</h1>" not in body]
    assert {r.status_code for r in on_api_ports} == {404}
    assert not [r for r in on_api_ports if "quoin_http_requests" in r.text]
    assert [r.status_code for r in scraped] == [200] * len(cluster.instances)
    assert all("quoin_http_requests_total{" in r.text for r in scraped)


def redis_events(instance: Instance) -> list[str]:
    """The Redis state changes ``instance`` has logged, in order."""
    return [e["event"] for e in instance.events() if e.get("event") in {"redis_unavailable", "redis_available"}]


async def test_with_redis_down_every_instance_stays_ready_and_behind_the_balancer_and_limits_fail_open(
    cluster: LoopbackCluster, cluster_redis: PrivateRedis
) -> None:
    async def readiness(client: httpx.AsyncClient) -> list[tuple[int, object]]:
        answers = [await client.get(f"{i.base}/health/ready") for i in cluster.instances]
        return [(a.status_code, a.json()) for a in answers]

    async with httpx.AsyncClient(timeout=10) as client:
        cluster_redis.stop()
        try:
            states: list[dict[str, str]] = []
            for _ in range(8):  # 4 s: four health checks of HAProxy's per instance, two failures would mark it DOWN
                states.append(await asyncio.to_thread(cluster.server_states))
                await asyncio.sleep(0.5)
            ready_during = await readiness(client)
            signed_up = [
                await client.post(
                    f"{cluster.lb}{USERS}", json={"email": f"no-redis-{n}@example.com", "password": PASSWORD}
                )
                for n in range(9)
            ]
            logged_during = {i.address: redis_events(i) for i in cluster.instances}
        finally:
            cluster_redis.start()
        # HAProxy probes every instance each second: each notices Redis back within a probe or two.
        await asyncio.to_thread(
            cluster.wait_until,
            lambda: all(redis_events(i)[-1:] == ["redis_available"] for i in cluster.instances),
            15,
            "every instance noticing Redis back",
        )
        ready_after = await readiness(client)

    instances = len(cluster.instances)
    assert all(list(state.values()) == ["UP"] * instances for state in states), states
    assert ready_during == [(200, {"status": "ok", "redis": "unavailable"})] * instances
    assert [a.status_code for a in signed_up] == [201] * 9
    assert not [a for a in signed_up if "ratelimit-limit" in a.headers], "limits fail open"
    assert all(events == ["redis_unavailable"] for events in logged_during.values()), logged_during
    assert ready_after == [(200, {"status": "ok", "redis": "ok"})] * instances
    assert all(redis_events(i) == ["redis_unavailable", "redis_available"] for i in cluster.instances)


async def _poll(stop: asyncio.Event, probe: Callable[[], Awaitable[None]], every: float = 0.1) -> None:
    while not stop.is_set():
        await probe()
        await asyncio.sleep(every)


async def test_sigterm_under_load_loses_no_acknowledged_write_and_no_idempotent_request(
    cluster: LoopbackCluster,
) -> None:
    victim: Instance = cluster.instances[1]
    async with httpx.AsyncClient(base_url=cluster.lb, timeout=10) as client:
        token = await signed_up_token(client, "steady@example.com")
    load = Load(cluster.lb, token)
    before = served(cluster)
    seen: dict[str, float] = {}
    watch_stop = asyncio.Event()

    async with httpx.AsyncClient(timeout=2) as direct:

        async def readiness() -> None:
            try:
                answer = await direct.get(f"{victim.base}/health/ready")
            except httpx.TransportError:
                seen.setdefault("listener closed", time.monotonic())
                return
            if answer.status_code == 503:
                seen.setdefault("readiness 503", time.monotonic())

        async def balancer() -> None:
            state = (await asyncio.to_thread(cluster.server_states)).get(victim.address)
            if state and state != "UP":
                seen.setdefault(f"balancer marks it {state}", time.monotonic())

        running = asyncio.create_task(load.run())
        watchers = [
            asyncio.create_task(_poll(watch_stop, readiness)),
            asyncio.create_task(_poll(watch_stop, balancer)),
        ]
        await asyncio.sleep(3)  # steady state on every instance
        sigterm = time.monotonic()
        sigterm_wall = datetime.now(UTC)
        victim.process.send_signal(signal.SIGTERM)
        victim.exit_code = await asyncio.to_thread(victim.process.wait, 40)
        exited = time.monotonic()
        await asyncio.sleep(2)  # the others carry on alone
        load.stop.set()
        watch_stop.set()
        await running
        await asyncio.gather(*watchers)

    after = served(cluster)
    last_served = max(datetime.fromisoformat(e["timestamp"]) for e in victim.access())
    timeline = {
        **{name: at - sigterm for name, at in seen.items()},
        **{
            name: (at - sigterm_wall).total_seconds()
            for name, at in {
                "logs draining": victim.event_time("draining"),
                "last request served": last_served,
                "stops accepting (drained)": victim.event_time("drained"),
            }.items()
            if at is not None
        },
        f"exited with code {victim.exit_code}": exited - sigterm,
    }
    statuses = Counter((method, status) for _, method, status in load.outcomes)
    print("\nrequests served by each instance during the load:")
    for address in after:
        print(f"  {address}: {after[address] - before[address]}{'  (stopped)' if address == victim.address else ''}")
    print(f"client outcomes: {dict(sorted(statuses.items()))}")
    print("drain timeline (seconds after SIGTERM):")
    for name, offset in sorted(timeline.items(), key=lambda item: item[1]):
        print(f"  {offset:6.2f}  {name}")

    engine = create_async_engine(cluster.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            stored = await connection.scalar(
                text("SELECT count(*) FROM users WHERE email = ANY(:emails)"), {"emails": load.created}
            )
    finally:
        await engine.dispose()

    idempotent_failures = [o for o in load.outcomes if o[1] == "GET" and o[2] >= 500]
    assert victim.exit_code == 0
    assert stored == len(load.created) > 0, "every acknowledged sign-up is in the database"
    assert idempotent_failures == []
    assert statuses[("GET", 200)] > 50
    assert all(after[a] > before[a] for a in after), "every instance served during the load"
    assert seen["readiness 503"] - sigterm < 1, "readiness fails at once"
    assert timeline["stops accepting (drained)"] > seen["balancer marks it DOWN"] - sigterm, (
        "the balancer took the instance out before it stopped accepting"
    )
    assert timeline["last request served"] > timeline["logs draining"], "it kept serving while draining"
    assert any(at > exited for at, _, _ in load.outcomes), "the load went on after the instance left"
