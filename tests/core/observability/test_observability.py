"""What operators see: JSON log lines, traces (in memory and over real OTLP), Prometheus metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
import structlog
from litestar import Litestar, get
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from quoin.core.http.routes import PUBLIC
from quoin.core.observability.metrics_server import metrics_listener
from quoin.core.observability.tracing import TRACING_STATE_KEY, Tracing
from tests.support.helpers import (
    PASSWORD,
    TOKEN,
    USERS,
    assert_problem,
    engine_of,
    make_account,
    running_app,
    unique_email,
)
from tests.support.logs import LogCapture
from tests.support.postgres_server import DatabaseFactory, free_port
from tests.support.settings import make_settings


@pytest.fixture(scope="session")
def span_exporter(app: Litestar) -> InMemorySpanExporter:
    tracing = app.state[TRACING_STATE_KEY]
    assert isinstance(tracing, Tracing)
    exporter = InMemorySpanExporter()
    tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    span_exporter.clear()
    return span_exporter


TRACE_ID = uuid.uuid4().hex
PARENT_SPAN_ID = uuid.uuid4().hex[:16]


# --- traces -------------------------------------------------------------------------------


async def test_a_request_is_one_server_span_named_by_route_with_sql_children_and_the_callers_trace(
    client: httpx.AsyncClient, spans: InMemorySpanExporter, logs: LogCapture
) -> None:
    account = await make_account(client)
    spans.clear()

    response = await client.get(
        account.path, headers={**account.headers, "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
    )

    assert response.status_code == 200
    finished = spans.get_finished_spans()
    servers = [s for s in finished if s.kind is SpanKind.SERVER]
    assert [s.name for s in servers] == ["GET /api/v1/users/{user_id}"]
    server = servers[0]
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/api/v1/users/{user_id}"
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == PARENT_SPAN_ID
    sql = [s for s in finished if s.kind is SpanKind.CLIENT and s.parent and s.parent.span_id == server.context.span_id]
    assert sql, [s.name for s in finished]
    assert any(str((s.attributes or {}).get("db.statement", "")).startswith("SELECT") for s in sql), [
        (s.name, s.attributes) for s in sql
    ]
    [line] = logs.access("/api/v1/users/{user_id}")
    assert line["trace_id"] == TRACE_ID
    assert line["span_id"] == format(server.context.span_id, "016x")


async def test_without_traceparent_a_new_trace_starts(client: httpx.AsyncClient, spans: InMemorySpanExporter) -> None:
    await client.get("/no/such/route")

    [server] = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.parent is None
    assert server.context.trace_id != int(TRACE_ID, 16)


@contextmanager
def traced_app_logs(app: Litestar) -> Iterator[tuple[InMemorySpanExporter, LogCapture]]:
    """The spans ``app`` records and the log lines it writes meanwhile."""
    exporter = InMemorySpanExporter()
    app.state[TRACING_STATE_KEY].provider.add_span_processor(SimpleSpanProcessor(exporter))
    root = logging.getLogger()
    capture = LogCapture(next(h for h in root.handlers if h.formatter is not None).formatter)
    root.addHandler(capture)
    try:
        yield exporter, capture
    finally:
        root.removeHandler(capture)


async def test_an_unsampled_new_trace_skips_tracing_and_a_callers_trace_is_still_continued(database_url: URL) -> None:
    async with running_app(make_settings(database_url, OTEL_TRACES_SAMPLER_ARG="0")) as (app, client):
        with traced_app_logs(app) as (exporter, logs):
            assert (await client.get("/api/v1/nowhere")).status_code == 404
            [unsampled] = logs.access()
            assert exporter.get_finished_spans() == ()
            assert "trace_id" not in unsampled  # no span was made, so there is no trace to point at

            sampled_by_caller = {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
            continued = await client.get("/api/v1/nowhere", headers=sampled_by_caller)

    assert continued.status_code == 404
    [server] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert format(server.context.trace_id, "032x") == TRACE_ID  # the caller sampled it: recorded at ratio 0
    assert logs.access()[-1]["trace_id"] == TRACE_ID


@pytest.mark.parametrize(
    ("sampler", "callers_flag", "recorded"),
    [
        ("always_off", "01", False),  # the caller sampled; a sampler that ignores callers still says no
        ("always_on", "00", True),  # the caller did not sample; this sampler records anyway
        ("parentbased_always_off", "01", True),  # the caller decides
        ("parentbased_always_on", "00", False),
    ],
)
async def test_otel_traces_sampler_decides_whether_a_callers_trace_is_followed(
    database_url: URL, sampler: str, callers_flag: str, recorded: bool
) -> None:
    async with running_app(make_settings(database_url, OTEL_TRACES_SAMPLER=sampler)) as (app, client):
        with traced_app_logs(app) as (exporter, _):
            traceparent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-{callers_flag}"
            assert (await client.get("/api/v1/nowhere", headers={"traceparent": traceparent})).status_code == 404

    servers = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(servers) == int(recorded)


async def test_new_traces_are_sampled_at_the_configured_ratio(database_url: URL) -> None:
    async with running_app(make_settings(database_url, OTEL_TRACES_SAMPLER_ARG="0.5")) as (app, client):
        with traced_app_logs(app) as (exporter, _):
            for _ in range(400):
                await client.get("/api/v1/nowhere")

    traced = len([s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER])
    # Binomial(400, 0.5): 200 ± 10; sampling twice (here, then again by the provider) would give ~100.
    assert 150 <= traced <= 250, traced


async def test_probes_are_not_traced(client: httpx.AsyncClient, spans: InMemorySpanExporter) -> None:
    for path in ("/health/live", "/health/ready"):
        assert (await client.get(path)).status_code == 200

    assert [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER] == []


# --- logs ---------------------------------------------------------------------------------


async def test_each_request_writes_one_access_line_with_the_operational_fields(
    client: httpx.AsyncClient, logs: LogCapture
) -> None:
    account = await make_account(client)
    logs.lines.clear()

    response = await client.get(account.path, headers={**account.headers, "X-Request-ID": "trace-me-1"})

    [line] = logs.access()
    assert line["level"] == "info"
    assert line["logger"] == "quoin.access"
    assert line["request_id"] == "trace-me-1" == response.headers["x-request-id"]
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/v1/users/{user_id}", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["client"] == "127.0.0.1"
    assert line["user_id"] == account.id
    assert len(line["trace_id"]) == 32
    assert len(line["span_id"]) == 16
    assert line["timestamp"].endswith("Z")


async def test_a_client_that_hangs_up_before_its_body_is_read_is_a_499_not_a_server_error(
    app: Litestar, logs: LogCapture
) -> None:
    sent: list[dict[str, Any]] = []

    async def hang_up() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": USERS, "raw_path": USERS.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), (b"content-length", b"64")],
        "client": ("203.0.113.9", 5000), "server": ("testserver", 80),
    }  # fmt: skip
    await app(scope, hang_up, send)  # type: ignore[arg-type]

    assert sent[0]["status"] == 499
    [line] = logs.access(f"{USERS.rstrip('/')}")
    assert line["status"] == 499
    assert not [e for e in logs.events() if e["event"] == "unhandled_exception"]


async def test_anonymous_and_unmatched_requests_are_logged_too(client: httpx.AsyncClient, logs: LogCapture) -> None:
    await client.get("/api/v1/nowhere")
    await client.get(f"{USERS}me")

    unmatched, anonymous = logs.access()
    assert (unmatched["route"], unmatched["status"], unmatched["user_id"]) == ("<unmatched>", 404, None)
    assert (anonymous["route"], anonymous["status"], anonymous["user_id"]) == ("/api/v1/users/me", 401, None)


async def test_health_and_docs_are_not_logged_at_info(client: httpx.AsyncClient, logs: LogCapture) -> None:
    for path in ("/health/live", "/health/ready", "/docs", "/schema/openapi.json"):
        assert (await client.get(path)).status_code == 200

    assert [line["route"] for line in logs.access() if line["level"] == "info"] == []


async def test_secrets_and_personal_data_never_reach_the_logs(
    client: httpx.AsyncClient, db: AsyncConnection, logs: LogCapture
) -> None:
    email = unique_email("private")
    password = "Secret-Pa55word-" + uuid.uuid4().hex
    await client.post(USERS, json={"email": email, "password": password, "full_name": "Private Person"})
    token = (await client.post(TOKEN, data={"username": email, "password": password})).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    await client.get(f"{USERS}me", headers={**bearer, "Cookie": f"session={token}"})
    await client.post(USERS, json={"email": email.upper(), "password": password})  # 409
    await client.post(TOKEN, data={"username": email, "password": password + "x"})  # 401
    await client.get("/api/v1/nowhere", headers=bearer)  # 404
    structlog.get_logger("test").info("careless", password=password, authorization=token)

    text = "\n".join(logs.lines)
    assert len(logs.access()) == 6
    for secret in (password, token, email, email.upper(), "Private Person"):
        assert secret not in text, secret
    [careless] = [e for e in logs.events() if e["event"] == "careless"]
    assert careless["password"] == careless["authorization"] == "[redacted]"


async def test_a_crash_logs_the_trace_with_request_and_trace_ids_and_marks_the_span(database_url: URL) -> None:
    @get("/crash", sync_to_thread=False, opt=PUBLIC)
    def crash() -> None:
        raise ZeroDivisionError("boom internals")

    exporter = InMemorySpanExporter()
    async with running_app(make_settings(database_url)) as (app, client):
        app.register(crash)
        app.state[TRACING_STATE_KEY].provider.add_span_processor(SimpleSpanProcessor(exporter))
        capture = LogCapture(next(h for h in logging.getLogger().handlers if h.formatter is not None).formatter)
        logging.getLogger().addHandler(capture)
        try:
            response = await client.get("/crash", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"})
        finally:
            logging.getLogger().removeHandler(capture)

    assert response.status_code == 500
    assert "boom internals" not in response.text
    [crash_line] = [e for e in capture.events() if e["event"] == "unhandled_exception"]
    assert crash_line["level"] == "error"
    assert crash_line["request_id"] == response.headers["x-request-id"] == response.json()["request_id"]
    assert crash_line["trace_id"] == TRACE_ID
    assert "ZeroDivisionError" in json.dumps(crash_line["exception"])
    # Frames are logged without their local variables, which can hold passwords and tokens.
    assert all("locals" not in frame for e in crash_line["exception"] for frame in e["frames"])
    [server] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.name == "GET /crash"
    assert server.status.status_code is StatusCode.ERROR
    assert any(event.name == "exception" for event in server.events)


def app_log_capture() -> LogCapture:
    return LogCapture(next(h for h in logging.getLogger().handlers if h.formatter is not None).formatter)


async def test_an_outage_met_during_authentication_is_logged_with_the_request_id(database_url: URL) -> None:
    dead = database_url.set(port=1)  # nothing listens on port 1
    settings = make_settings(dead, DB_STARTUP_TIMEOUT="0")
    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "exp": 4_102_444_800, "iat": 1_700_000_000, "jti": "j"},
        settings.security.secret_key,
        algorithm="HS256",
    )
    async with running_app(settings) as (_, client):
        capture = app_log_capture()
        logging.getLogger().addHandler(capture)
        try:
            response = await client.get(f"{USERS}me", headers={"Authorization": f"Bearer {token}"})
        finally:
            logging.getLogger().removeHandler(capture)

    assert response.status_code == 503
    [line] = [e for e in capture.events() if e["event"] == "database_unavailable"]
    assert line["request_id"] == response.headers["x-request-id"]


async def test_console_logs_show_tracebacks_without_local_variables(database_url: URL) -> None:
    secret = uuid.uuid4().hex  # made at run time, so it is in no source line a traceback quotes

    @get("/crash-with-secret", sync_to_thread=False, opt=PUBLIC)
    def crash_with_secret() -> None:
        password = secret  # a local variable a traceback must not show
        raise RuntimeError("failed near " + password[:3])

    async with running_app(make_settings(database_url, LOG_FORMAT="console")) as (app, client):
        app.register(crash_with_secret)
        capture = app_log_capture()
        logging.getLogger().addHandler(capture)
        try:
            response = await client.get("/crash-with-secret")
        finally:
            logging.getLogger().removeHandler(capture)

    text = "\n".join(capture.lines)
    assert response.status_code == 500
    assert "RuntimeError" in text
    assert secret not in text


async def test_with_otel_disabled_nothing_is_installed_and_logs_carry_no_trace(database_url: URL) -> None:
    async with running_app(make_settings(database_url, OTEL_SDK_DISABLED="true")) as (app, client):
        capture = LogCapture(next(h for h in logging.getLogger().handlers if h.formatter is not None).formatter)
        logging.getLogger().addHandler(capture)
        try:
            response = await client.get("/api/v1/nowhere")
        finally:
            logging.getLogger().removeHandler(capture)

    assert response.status_code == 404
    assert app.state[TRACING_STATE_KEY] is None
    assert "OpenTelemetryPlugin" not in {type(p).__name__ for p in app.plugins}
    [line] = [e for e in capture.events() if e["event"] == "request"]
    assert "trace_id" not in line


# --- export over real OTLP/HTTP ------------------------------------------------------------


class OtlpReceiver(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.path == "/v1/traces"
        self.server.received.append(ExportTraceServiceRequest.FromString(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), OtlpReceiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


async def test_spans_are_exported_over_otlp_http_to_the_configured_endpoint(
    databases: DatabaseFactory, otlp_receiver: tuple[str, list[ExportTraceServiceRequest]]
) -> None:
    database_url = await databases.create(migrated=True)  # this app commits a sign-up through its own pool
    endpoint, received = otlp_receiver
    settings = make_settings(database_url, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_SERVICE_NAME="quoin-export-test")
    async with running_app(settings) as (_, client):
        await client.post(USERS, json={"email": unique_email(), "password": PASSWORD})
        await client.get(f"{USERS}me")
    # Leaving the app shut the provider down, which flushed the batch.

    names = {
        span.name for request in received for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans
    }
    services = {
        attribute.value.string_value
        for request in received
        for rs in request.resource_spans
        for attribute in rs.resource.attributes
        if attribute.key == "service.name"
    }
    print(sorted(names))
    assert {"POST /api/v1/users", "GET /api/v1/users/me"} <= names
    assert any(
        name.startswith(("INSERT", "SELECT", "BEGIN", "COMMIT")) or "quoin" in name
        for name in names - {"POST /api/v1/users", "GET /api/v1/users/me"}
    )
    assert services == {"quoin-export-test"}


# --- metrics ------------------------------------------------------------------------------


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


@pytest.fixture(scope="module")
def metrics_url() -> Iterator[str]:
    """The listener ``quoin serve`` starts, started here in the test process (an app never starts it)."""
    port = free_port()
    with metrics_listener("127.0.0.1", port):
        yield f"http://127.0.0.1:{port}/metrics"


async def scrape(metrics_url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as scraper:
        return await scraper.get(metrics_url)


async def test_metrics_count_requests_by_route_method_and_the_status_the_client_got(
    client: httpx.AsyncClient, db: AsyncConnection, metrics_url: str
) -> None:
    account = await make_account(client)
    before = samples((await scrape(metrics_url)).text, "quoin_http_requests_total")

    await client.get(account.path, headers=account.headers)  # 200
    await client.get(f"{USERS}{uuid.uuid4()}", headers=account.headers)  # 403 (not theirs)
    await client.get("/api/v1/nowhere")  # 404
    await client.post(USERS, json={"email": "nope"})  # 422
    await client.get(f"{USERS}me")  # 401
    await client.get(f"{USERS}me")  # 401
    await client.request("FOO1", USERS)  # an invented method
    response = await scrape(metrics_url)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text, "quoin_http_requests_total")

    def delta(method: str, route: str, status: str) -> float:
        labels = (("method", method), ("route", route), ("status", status))
        return after.get(labels, 0) - before.get(labels, 0)

    assert delta("GET", "/api/v1/users/{user_id}", "200") == 1
    assert delta("GET", "/api/v1/users/{user_id}", "403") == 1
    assert delta("GET", "<unmatched>", "404") == 1
    assert delta("POST", "/api/v1/users", "422") == 1
    assert delta("GET", "/api/v1/users/me", "401") == 2
    assert delta("OTHER", "<unmatched>", "405") == 1
    assert not any(("method", "FOO1") in labels for labels in after)
    durations = samples(response.text, "quoin_http_request_duration_seconds_count")
    assert durations[(("method", "GET"), ("route", "/api/v1/users/me"), ("status", "401"))] >= 2


async def test_metrics_show_requests_in_progress_and_the_database_pool(database_url: URL, metrics_url: str) -> None:
    settings = make_settings(database_url, DB_POOL_SIZE="3", DB_MAX_OVERFLOW="2")
    body_sent = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        await body_sent.wait()
        yield b"{}"

    def uploading(scrape_text: str) -> float:
        return samples(scrape_text, "quoin_http_requests_in_progress").get(
            (("method", "POST"), ("route", "/api/v1/users")), 0
        )

    async with running_app(settings) as (app, client):
        idle = (await scrape(metrics_url)).text
        # A sign-up whose body has not arrived yet: in progress until it does.
        upload = asyncio.create_task(
            client.post(USERS, content=slow_body(), headers={"content-type": "application/json"})
        )
        async with engine_of(app).connect() as first, engine_of(app).connect() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            for _ in range(100):  # the upload reaches the app on the next turns of the loop
                busy = (await scrape(metrics_url)).text
                if uploading(busy) - uploading(idle) == 1:
                    break
        body_sent.set()
        finished = await upload

    def gauge(scrape_text: str, name: str) -> float:
        return samples(scrape_text, name)[()]

    assert uploading(busy) - uploading(idle) == 1
    assert finished.status_code == 422
    # Other apps' engines may be watched too while this runs, so compare before and after.
    assert gauge(busy, "quoin_db_pool_checked_out") - gauge(idle, "quoin_db_pool_checked_out") == 2
    assert gauge(busy, "quoin_db_pool_size") >= 3


async def test_with_metrics_disabled_requests_are_logged_but_not_counted(database_url: URL, metrics_url: str) -> None:
    async with running_app(make_settings(database_url, METRICS_ENABLED="false")) as (_, client):
        before = samples((await scrape(metrics_url)).text, "quoin_http_requests_total")
        capture = app_log_capture()
        logging.getLogger().addHandler(capture)
        try:
            response = await client.get("/api/v1/nowhere")
        finally:
            logging.getLogger().removeHandler(capture)
        after = samples((await scrape(metrics_url)).text, "quoin_http_requests_total")

    assert response.status_code == 404
    assert after == before
    [line] = [e for e in capture.events() if e["event"] == "request"]
    assert (line["route"], line["status"]) == ("<unmatched>", 404)


METRICS_PATH_TRICKS = ["/metrics", "/metrics/", "//metrics", "/%6detrics", "/metrics%2f"]


@pytest.mark.parametrize("path", METRICS_PATH_TRICKS)
async def test_the_api_answers_metrics_paths_with_a_404_problem_and_does_not_document_them(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(httpx.URL(f"http://testserver{path}"))

    assert response.request.url.raw_path.decode() == path, "sent as written"
    assert_problem(response, 404)
    assert "quoin_http_requests" not in response.text
    assert not [p for p in (await client.get("/schema/openapi.json")).json()["paths"] if "metrics" in p]
