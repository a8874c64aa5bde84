"""The Redis counter's own client: pipelined hits, scripts Redis lost, sessions, URL forms, time-outs and outages."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from quoin.core.ratelimit.counters import CounterStoreError
from quoin.core.ratelimit.redis import RedisCounter
from quoin.core.ratelimit.redis_client import RedisAddress
from tests.support.postgres_server import free_port
from tests.support.redis_server import PrivateRedis, find_redis_server


@pytest.fixture
def start_redis() -> Iterator[Callable[..., PrivateRedis]]:
    """Starts private Redis servers (``redis-server`` options as arguments), all removed after the test."""
    if find_redis_server() is None:
        pytest.skip("needs redis-server on PATH")
    servers: list[PrivateRedis] = []

    def start(*options: str) -> PrivateRedis:
        server = PrivateRedis(options)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.remove()


@asynccontextmanager
async def counter_at(url: str) -> AsyncIterator[RedisCounter]:
    counter = RedisCounter(url)
    try:
        yield counter
    finally:
        await counter.close()


def unique_key() -> str:
    return f"quoin:test:{uuid.uuid4().hex}"


def redis_events(logs: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in logs if e["event"].startswith("redis_")]


async def stored(server: PrivateRedis, key: str, *, db: int, password: str | None = None) -> bytes | None:
    """The value at ``key`` in the server's database ``db``."""
    async with Redis(port=server.port, db=db, password=password) as observer:
        value: bytes | None = await observer.get(key)
        return value


async def outcome(hit: Awaitable[tuple[int, int]]) -> tuple[int, int] | str:
    """The hit, or the name of the error it raised."""
    try:
        return await hit
    except CounterStoreError as exc:
        return type(exc).__name__


# --- pipelining and scripts ----------------------------------------------------------------


@pytest.mark.process
async def test_concurrent_hits_share_one_connection_and_each_gets_its_own_count(
    redis_url: tuple[str, PrivateRedis | None],
) -> None:
    url, _ = redis_url
    key = unique_key()
    async with Redis.from_url(url) as observer, counter_at(url) as counter:
        await counter.ping()
        clients_before = (await observer.info("clients"))["connected_clients"]
        hits = await asyncio.gather(*(counter.hit(key, 60) for _ in range(200)))
        clients_after = (await observer.info("clients"))["connected_clients"]

    # Written in this order on one connection: each reply went to the hit that asked.
    assert [count for count, _ in hits] == list(range(1, 201))
    assert all(0 < reset_in <= 60 for _, reset_in in hits)
    assert clients_after == clients_before


@pytest.mark.process
async def test_a_script_redis_lost_is_sent_again_without_failing_a_hit(
    redis_url: tuple[str, PrivateRedis | None],
) -> None:
    url, _ = redis_url
    key = unique_key()
    async with Redis.from_url(url) as observer, counter_at(url) as counter:
        with structlog.testing.capture_logs() as logs:
            first, _ = await counter.hit(key, 60)
            await observer.script_flush()
            await observer.config_resetstat()
            later = [(await counter.hit(key, 60))[0] for _ in range(3)]
            commands = await observer.info("commandstats")

    assert [first, *later] == [1, 2, 3, 4]
    assert redis_events(logs) == []
    assert commands["cmdstat_eval"]["calls"] == 1  # sent whole once, and cached by Redis again
    assert (commands["cmdstat_evalsha"]["calls"], commands["cmdstat_evalsha"]["failed_calls"]) == (3, 1)


# --- where and as whom ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "username", "password", "db"),
    [
        ("redis://redis:6379/0", "redis", 6379, False, None, None, 0),
        ("redis://localhost", "localhost", 6379, False, None, None, 0),
        ("rediss://app:p%40ss@cache.example:6380/4", "cache.example", 6380, True, "app", "p@ss", 4),
        ("redis://:secret@[::1]:7000/1?db=9", "::1", 7000, False, None, "secret", 9),
        ("unix:///run/redis.sock?db=2", "/run/redis.sock", None, False, None, None, 2),
    ],
)
def test_redis_urls_say_where_and_as_whom_to_connect(
    url: str, host: str, port: int | None, tls: bool, username: str | None, password: str | None, db: int
) -> None:
    assert RedisAddress.parse(url) == RedisAddress(host, port, tls, username, password, db)


@pytest.mark.parametrize(
    "url", ["http://redis:6379/0", "redis://redis:6379/zero", "redis://redis/0?ssl_cert_reqs=none"]
)
def test_redis_urls_it_cannot_follow_are_refused_at_start_up(url: str) -> None:
    with pytest.raises(ValueError, match="Redis"):
        RedisCounter(url)


@pytest.mark.process
async def test_credentials_and_database_in_the_url_start_each_session(
    start_redis: Callable[..., PrivateRedis],
) -> None:
    server = start_redis()
    password = "p@ss/w:rd"
    async with Redis.from_url(server.url) as admin:
        await admin.acl_setuser("counter", enabled=True, passwords=["+s3cret"], keys=["*"], commands=["+@all"])
        await admin.config_set("requirepass", password)
    base = f"127.0.0.1:{server.port}"
    key = unique_key()
    async with (
        counter_at(f"redis://:{quote(password, safe='')}@{base}/3") as by_password,
        counter_at(f"redis://counter:s3cret@{base}/5") as by_user,
        counter_at(f"redis://:wrong@{base}/0") as refused,
    ):
        await by_password.hit(key, 60)
        await by_user.hit(key, 60)
        await by_user.hit(key, 60)
        with structlog.testing.capture_logs() as logs, pytest.raises(CounterStoreError, match="WRONGPASS"):
            await refused.hit(key, 60)
    counts = {db: await stored(server, key, db=db, password=password) for db in (0, 3, 5)}

    assert counts == {0: None, 3: b"1", 5: b"2"}
    assert redis_events(logs) == ["redis_unavailable"]


@pytest.mark.process
async def test_unix_socket_urls_reach_redis(start_redis: Callable[..., PrivateRedis], tmp_path: Path) -> None:
    socket_path = tmp_path / "redis.sock"
    server = start_redis("--unixsocket", str(socket_path))
    key = unique_key()
    async with counter_at(f"unix://{socket_path}?db=2") as counter:
        counts = [(await counter.hit(key, 60))[0] for _ in range(2)]
    assert (counts, await stored(server, key, db=2)) == ([1, 2], b"2")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that signs itself, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "quoin test redis")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "redis.crt", directory / "redis.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_file, key_file


@pytest.mark.process
async def test_rediss_urls_speak_tls_to_a_redis_whose_certificate_is_trusted(
    start_redis: Callable[..., PrivateRedis], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate, key_file = self_signed_certificate(tmp_path)
    tls_port = free_port()
    start_redis(
        "--tls-port", str(tls_port), "--tls-cert-file", str(certificate), "--tls-key-file", str(key_file),
        "--tls-ca-cert-file", str(certificate), "--tls-auth-clients", "no",
    )  # fmt: skip
    url = f"rediss://127.0.0.1:{tls_port}/1"
    key = unique_key()
    async with counter_at(url) as untrusting:
        with pytest.raises(CounterStoreError, match="CERTIFICATE_VERIFY_FAILED"):
            await untrusting.hit(key, 60)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))  # the system's authorities, plus this one
    async with counter_at(url) as counter:
        counts = [(await counter.hit(key, 60))[0] for _ in range(2)]

    assert counts == [1, 2]


# --- time-outs and outages -----------------------------------------------------------------


def redis_up() -> float | None:
    return REGISTRY.get_sample_value("quoin_redis_up")


@pytest.mark.process
async def test_hits_redis_leaves_unanswered_fail_at_the_time_out_and_a_new_connection_counts_again(
    start_redis: Callable[..., PrivateRedis],
) -> None:
    server = start_redis()
    key = unique_key()
    loop = asyncio.get_running_loop()
    async with Redis.from_url(server.url) as admin, counter_at(server.url) as counter:
        await counter.hit(key, 60)
        with structlog.testing.capture_logs() as logs:
            await admin.client_pause(10_000, all=False)  # scripts wait; this connection may still unpause
            started = loop.time()
            unanswered = await asyncio.gather(*(outcome(counter.hit(key, 60)) for _ in range(10)))
            waited = loop.time() - started
            meanwhile = await outcome(counter.hit(key, 60))
            await admin.client_unpause()
            await counter.ping()
            count_after, _ = await counter.hit(key, 60)

    assert unanswered == ["CounterStoreError"] * 10
    assert waited < 1.0, "failed at the 0.25 s time-out, long before Redis would have answered"
    assert meanwhile == "CounterStoreError"  # at once, without asking Redis again
    assert count_after >= 2
    assert redis_events(logs) == ["redis_unavailable", "redis_available"]


@pytest.mark.process
async def test_a_restarted_redis_fails_the_hits_meanwhile_then_counts_again_logging_each_change_once(
    start_redis: Callable[..., PrivateRedis],
) -> None:
    server = start_redis()
    key = unique_key()
    async with counter_at(server.url) as counter:
        with structlog.testing.capture_logs() as logs:
            before = await counter.hit(key, 60)
            server.stop()
            during = [await outcome(counter.hit(key, 60)) for _ in range(3)]
            with pytest.raises(CounterStoreError):
                await counter.ping()
            up_during = redis_up()
            server.start()
            await counter.ping()
            after = await counter.hit(key, 60)
            up_after = redis_up()

    assert before == (1, 60)
    assert during == ["CounterStoreError"] * 3
    assert after == (1, 60)  # a new Redis: nothing persisted, and the script loaded again
    assert (up_during, up_after) == (0, 1)
    assert redis_events(logs) == ["redis_unavailable", "redis_available"]
