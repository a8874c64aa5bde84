"""Rate limits: per caller, stricter on logins, shared through Redis, open when Redis is gone."""

from __future__ import annotations

import pytest
import structlog
from prometheus_client import REGISTRY
from sqlalchemy.engine import URL

from tests.support.helpers import PASSWORD, TOKEN, USERS, assert_problem, login, sign_up, unique_email
from tests.support.limits import app_for, client_of, limited, two_instances_from
from tests.support.redis_server import PrivateRedis

# --- per caller (in memory) ----------------------------------------------------------------


async def test_over_the_limit_a_caller_gets_429_with_retry_after(own_database: URL) -> None:
    async with app_for(limited(own_database)) as application, client_of(application) as client:
        answers = [await client.get(f"{USERS}me") for _ in range(4)]

    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["ratelimit-limit"] == "3" for a in answers)
    problem = assert_problem(answers[3], 429, detail="Rate limit exceeded; see Retry-After")
    assert problem["status"] == 429
    assert 0 < int(answers[3].headers["retry-after"]) <= 60
    assert answers[3].headers["retry-after"] == answers[3].headers["ratelimit-reset"]


async def test_authenticated_callers_are_limited_per_user_not_per_address(own_database: URL) -> None:
    settings = limited(own_database, RATE_LIMIT_PER_MINUTE="5", LOGIN_RATE_LIMIT_PER_MINUTE="100")
    async with app_for(settings) as application, client_of(application, "192.0.2.1") as setup:
        ada = await sign_up(setup, unique_email("ada"))
        bob = await sign_up(setup, unique_email("bob"))
        ada_headers, bob_headers = await login(setup, ada["email"]), await login(setup, bob["email"])
        async with client_of(application, "203.0.113.50") as shared_ip:
            ada_answers = [(await shared_ip.get(f"{USERS}me", headers=ada_headers)).status_code for _ in range(6)]
            bob_answers = [(await shared_ip.get(f"{USERS}me", headers=bob_headers)).status_code for _ in range(2)]

    assert ada_answers == [200] * 5 + [429]
    assert bob_answers == [200, 200]


async def test_probes_and_docs_are_never_limited(own_database: URL) -> None:
    async with app_for(limited(own_database)) as application, client_of(application) as client:
        answers = [await client.get(path) for path in ["/health/live", "/docs", "/schema/openapi.json"] * 3]

    assert {a.status_code for a in answers} == {200}
    assert all("ratelimit-limit" not in a.headers for a in answers)


async def test_limits_can_be_turned_off(own_database: URL) -> None:
    settings = limited(own_database, RATE_LIMIT_ENABLED="false", SIGNUP_RATE_LIMIT_PER_MINUTE="1")
    async with app_for(settings) as application, client_of(application) as c:
        answers = [await c.get(f"{USERS}me") for _ in range(6)]
        sign_ups = [await c.post(USERS, json={"email": unique_email(), "password": PASSWORD}) for _ in range(3)]

    assert {a.status_code for a in answers} == {401}
    assert [s.status_code for s in sign_ups] == [201, 201, 201]


# --- logins --------------------------------------------------------------------------------


async def test_logins_are_limited_per_target_account_across_addresses(own_database: URL) -> None:
    settings = limited(own_database, RATE_LIMIT_PER_MINUTE="100")
    async with app_for(settings) as application:  # clients come and go inside one app
        async with client_of(application, "192.0.2.10") as setup:
            victim = await sign_up(setup, unique_email("victim"))
        statuses = []
        for octet in range(20, 24):
            async with client_of(application, f"192.0.2.{octet}") as attacker:
                guess = await attacker.post(TOKEN, data={"username": victim["email"], "password": "guess-guess"})
                statuses.append(guess.status_code)
        async with client_of(application, "192.0.2.99") as owner:
            right_password = await owner.post(TOKEN, data={"username": victim["email"], "password": PASSWORD})

    assert statuses == [401, 401, 401, 429]
    assert_problem(right_password, 429, detail="Too many login attempts; see Retry-After")
    assert int(right_password.headers["retry-after"]) > 0


async def test_logins_are_limited_per_client_address_across_accounts(own_database: URL) -> None:
    async with (
        app_for(limited(own_database, RATE_LIMIT_PER_MINUTE="100")) as application,
        client_of(application, "192.0.2.200") as sprayer,
    ):
        statuses = [
            (await sprayer.post(TOKEN, data={"username": unique_email(), "password": "spray-spray"})).status_code
            for _ in range(4)
        ]

    assert statuses == [401, 401, 401, 429]


# --- sign-ups ------------------------------------------------------------------------------


def sign_up_body(email: str | None = None) -> dict[str, str]:
    return {"email": email or unique_email("flood"), "password": PASSWORD}


async def test_sign_ups_are_limited_per_client_address(own_database: URL) -> None:
    settings = limited(own_database, RATE_LIMIT_PER_MINUTE="100", SIGNUP_RATE_LIMIT_PER_MINUTE="2")
    refused_email = unique_email("refused")
    async with app_for(settings) as application:
        async with client_of(application, "192.0.2.150") as flooder:
            invalid = [await flooder.post(USERS, json={"email": unique_email(), "password": "short"}) for _ in range(3)]
            accepted = [await flooder.post(USERS, json=sign_up_body()) for _ in range(2)]
            refused = await flooder.post(USERS, json=sign_up_body(refused_email))
            refused_login = await flooder.post(TOKEN, data={"username": refused_email, "password": PASSWORD})
        async with client_of(application, "192.0.2.151") as neighbour:
            elsewhere = await neighbour.post(USERS, json=sign_up_body())

    # Bodies that fail validation never reach the limit (nor a hash): only the two real attempts counted.
    assert [a.status_code for a in invalid] == [422, 422, 422]
    assert [a.status_code for a in accepted] == [201, 201]
    assert_problem(refused, 429, detail="Too many sign-ups; see Retry-After")
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert (refused.headers["ratelimit-limit"], refused.headers["ratelimit-remaining"]) == ("2", "0")
    assert refused_login.status_code == 401  # the refused account was never created
    assert elsewhere.status_code == 201


# --- shared through Redis ------------------------------------------------------------------


@pytest.mark.process
async def test_two_instances_share_one_limit_through_redis(
    own_database: URL, redis_url: tuple[str, PrivateRedis | None]
) -> None:
    url, _ = redis_url
    settings = limited(own_database, RATE_LIMIT_PER_MINUTE="4", REDIS_URL=url)
    async with two_instances_from(settings, "198.51.100.42") as (via_first, via_second):
        answers = [await (via_first if i % 2 == 0 else via_second).get(f"{USERS}me") for i in range(5)]
        ready = await via_second.get("/health/ready")

    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["3", "2", "1", "0", "0"]
    assert ready.status_code == 200


@pytest.mark.process
async def test_two_instances_share_one_sign_up_limit_through_redis(
    own_database: URL, redis_url: tuple[str, PrivateRedis | None]
) -> None:
    url, _ = redis_url
    settings = limited(own_database, RATE_LIMIT_PER_MINUTE="100", SIGNUP_RATE_LIMIT_PER_MINUTE="3", REDIS_URL=url)
    async with two_instances_from(settings, "198.51.100.150") as (via_first, via_second):
        answers = [await (via_first if i % 2 == 0 else via_second).post(USERS, json=sign_up_body()) for i in range(4)]

    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert_problem(answers[3], 429, detail="Too many sign-ups; see Retry-After")


def store_failures() -> float:
    return REGISTRY.get_sample_value("quoin_rate_limit_store_failures_total") or 0.0


def redis_up() -> float | None:
    return REGISTRY.get_sample_value("quoin_redis_up")


@pytest.mark.process
async def test_with_redis_gone_the_api_keeps_answering_and_stays_ready_naming_redis_unavailable(
    own_database: URL, redis_url: tuple[str, PrivateRedis | None]
) -> None:
    url, server = redis_url
    if server is None:
        pytest.skip("stopping Redis needs the private server, not TEST_REDIS_URL")
    settings = limited(own_database, RATE_LIMIT_PER_MINUTE="2", REDIS_URL=url)
    failures_before = store_failures()
    async with app_for(settings) as application, client_of(application, "198.51.100.77") as client:
        with structlog.testing.capture_logs() as logs:
            before = await client.get("/health/ready")
            server.stop()
            answers = [await client.post(USERS, json={"email": unique_email(), "password": PASSWORD}) for _ in range(4)]
            during = [await client.get("/health/ready") for _ in range(3)]
            up_during = redis_up()
            live = await client.get("/health/live")
            server.start()
            after = [await client.get("/health/ready") for _ in range(2)]
            up_after = redis_up()
            limited_again = await client.get(f"{USERS}me")

    assert (before.status_code, before.json()) == (200, {"status": "ok", "redis": "ok"})
    assert [a.status_code for a in answers] == [201] * 4
    assert all("ratelimit-limit" not in a.headers for a in answers)
    assert [(r.status_code, r.json()) for r in during] == [(200, {"status": "ok", "redis": "unavailable"})] * 3
    assert live.status_code == 200
    assert [(r.status_code, r.json()) for r in after] == [(200, {"status": "ok", "redis": "ok"})] * 2
    assert "ratelimit-limit" in limited_again.headers, "limits apply again once Redis answers"
    # Once per change of state, however many requests met the outage.
    assert [e["event"] for e in logs if e["event"].startswith("redis_")] == ["redis_unavailable", "redis_available"]
    assert (up_during, up_after) == (0, 1)
    assert store_failures() - failures_before >= 4
