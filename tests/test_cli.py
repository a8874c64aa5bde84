"""``quoin serve`` as a user runs it: a real uvicorn process, a real socket."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.helpers import PASSWORD, clean_environment, count_users
from tests.support.postgres_server import free_port
from tests.support.processes import descendants, mapped_files, wait_until_gone
from tests.support.serve import create_superuser, serving, start_server, stop_server

# Starts servers or processes of its own: left out of the fast tier (-m "not process").
pytestmark = pytest.mark.process


def round_trip(base: str, email: str, admin_email: str) -> dict[str, int]:
    """sign up → log in → get → list (as superuser) → patch → delete, returning each status."""
    with httpx.Client(base_url=base, timeout=10) as client:
        created = client.post("/api/v1/users/", json={"email": email, "password": PASSWORD})
        user_path = created.headers["location"]
        token = client.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
        own = {"Authorization": f"Bearer {token.json()['access_token']}"}
        admin_token = client.post("/api/v1/auth/token", data={"username": admin_email, "password": PASSWORD})
        admin = {"Authorization": f"Bearer {admin_token.json()['access_token']}"}
        statuses = {
            "create": created.status_code,
            "login": token.status_code,
            "get": client.get(user_path, headers=own).status_code,
            "list": client.get("/api/v1/users/", params={"email": email}, headers=admin).status_code,
            "patch": client.patch(user_path, json={"full_name": "Round Trip"}, headers=own).status_code,
            "delete": client.delete(user_path, headers=own).status_code,
            "gone": client.get(user_path, headers=admin).status_code,
        }
    return statuses


EXPECTED = {"create": 201, "login": 200, "get": 200, "list": 200, "patch": 200, "delete": 204, "gone": 404}


def test_with_no_database_configured_serve_migrates_and_runs_on_sqlite(tmp_path: Path) -> None:
    with serving(tmp_path) as base:
        ready = httpx.get(f"{base}/health/ready")
        docs = httpx.get(f"{base}/docs")
        created_admin = create_superuser(tmp_path, "Root@Example.com")
        again = create_superuser(tmp_path, "root@example.com")
        statuses = round_trip(base, "embedded@example.com", "root@example.com")

    assert created_admin.startswith("created superuser root@example.com (")
    assert again.startswith("updated superuser root@example.com (")
    assert ready.status_code == 200
    assert docs.status_code == 200
    assert statuses == EXPECTED
    assert (tmp_path / "quoin.db").stat().st_size > 0


@pytest.mark.committing
async def test_with_postgres_variables_serve_stores_rows_in_postgres(
    tmp_path: Path, database_url: URL, db: AsyncConnection
) -> None:
    env = {
        "POSTGRES_HOST": str(database_url.host),
        "POSTGRES_PORT": str(database_url.port),
        "POSTGRES_USER": str(database_url.username),
        "POSTGRES_DB": str(database_url.database),
        **({"POSTGRES_PASSWORD": database_url.password} if database_url.password else {}),
    }
    with serving(tmp_path, **env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            created = await client.post("/api/v1/users/", json={"email": "pg.row@example.com", "password": PASSWORD})
        rows_after_create = await count_users(db, "pg.row@example.com")
        await db.rollback()
        await asyncio.to_thread(create_superuser, tmp_path, "pg.admin@example.com", **env)
        statuses = await asyncio.to_thread(round_trip, base, "pg.trip@example.com", "pg.admin@example.com")

    assert created.status_code == 201
    assert rows_after_create == 1
    assert statuses == EXPECTED
    assert not (tmp_path / "quoin.db").exists()


def test_each_worker_hashes_in_small_niced_processes_that_end_with_the_server(tmp_path: Path) -> None:
    # The console script, as `./run serve` and the container start it, with uvicorn's worker
    # processes: each starts hashing processes of its own, which must stay free of the app.
    quoin = Path(sys.executable).with_name("quoin")
    process, base = start_server(tmp_path, command=[str(quoin), "serve"], WORKERS="2")
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            created = client.post("/api/v1/users/", json={"email": "workers@example.com", "password": PASSWORD})
            logins = [
                client.post("/api/v1/auth/token", data={"username": "workers@example.com", "password": PASSWORD})
                for _ in range(6)
            ]
        started = set(descendants(process.pid))
        hashing = {pid for pid in started if os.getpriority(os.PRIO_PROCESS, pid) == 19}
        libraries = {pid: mapped_files(pid) for pid in hashing}
    finally:
        code = stop_server(process)

    assert created.status_code == 201
    assert [login.status_code for login in logins] == [200] * 6
    assert hashing
    assert all(any("argon2" in path for path in files) for files in libraries.values())
    app_libraries = ("sqlalchemy", "asyncpg", "msgspec", "uvloop", "httptools")
    assert not [path for files in libraries.values() for path in files if any(lib in path for lib in app_libraries)]
    assert code == 0
    assert not wait_until_gone(started)


def test_serve_answers_metrics_on_metrics_port_only_and_closes_it_with_the_server(tmp_path: Path) -> None:
    metrics_port = free_port()
    process, base = start_server(tmp_path, METRICS_PORT=str(metrics_port))
    metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        on_api_port = httpx.get(f"{base}/metrics")
        scraped = httpx.get(metrics)
    finally:
        code = stop_server(process)

    assert on_api_port.status_code == 404
    assert on_api_port.headers["content-type"] == "application/problem+json"
    assert "quoin_http_requests" not in on_api_port.text
    assert scraped.status_code == 200
    assert 'quoin_http_requests_total{method="GET",route="/health/ready",status="200"}' in scraped.text
    assert 'quoin_http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in scraped.text
    assert "quoin_db_pool_size " in scraped.text
    assert code == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(metrics)


def test_serve_with_metrics_disabled_opens_no_metrics_port(tmp_path: Path) -> None:
    metrics_port = free_port()
    process, base = start_server(tmp_path, METRICS_PORT=str(metrics_port), METRICS_ENABLED="false")
    try:
        live = httpx.get(f"{base}/health/live")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        code = stop_server(process)

    assert live.status_code == 200
    assert code == 0


def test_with_several_workers_the_metrics_port_reports_what_the_workers_counted(tmp_path: Path) -> None:
    # The listener runs in uvicorn's supervisor, which serves no request: every sample comes from the workers.
    metrics_port = free_port()
    process, base = start_server(tmp_path, WORKERS="2", METRICS_PORT=str(metrics_port))
    try:
        answers = [httpx.get(f"{base}/no/such/route") for _ in range(20)]  # a connection each: either worker
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        code = stop_server(process)

    assert {answer.status_code for answer in answers} == {404}
    assert 'quoin_http_requests_total{method="GET",route="<unmatched>",status="404"} 20.0' in scraped.text
    assert code == 0


def test_serve_stops_with_one_line_when_the_metrics_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "quoin", "serve"], cwd=tmp_path,
            env={**clean_environment(), "METRICS_PORT": str(port), "PORT": str(free_port())},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"quoin: cannot serve metrics on 127.0.0.1:{port} (METRICS_PORT): [Errno 98]")
    )


def _quoin(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quoin", *args], cwd=cwd, env={**clean_environment(), **env}, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_cli_is_the_products_own(tmp_path: Path) -> None:
    helped = _quoin(tmp_path, "--help")
    serve_helped = _quoin(tmp_path, "serve", "-h")
    version = _quoin(tmp_path, "--version")
    gone = [_quoin(tmp_path, name, "--help") for name in ("run", "sessions")]

    assert helped.returncode == 0, helped.stderr
    assert "QuoinAPI: serve the API" in helped.stdout
    for command in ("serve", "database", "users", "routes", "schema"):
        assert f" {command} " in helped.stdout
    assert " sessions " not in helped.stdout
    assert " run " not in helped.stdout
    assert (serve_helped.returncode, serve_helped.stderr) == (0, "")
    assert serve_helped.stdout.startswith("Usage: quoin serve [OPTIONS]")
    assert (version.returncode, version.stdout, version.stderr) == (0, "quoin 0.1.0\n", "")
    assert all(result.returncode == 2 and "No such command" in result.stderr for result in gone)


def test_serve_takes_host_and_port_options_over_the_settings(tmp_path: Path) -> None:
    settings_port, option_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "quoin", "serve", "--host", "127.0.0.1", "--port", str(option_port)],
        cwd=tmp_path, env={**clean_environment(), "PORT": str(settings_port), "DRAIN_SECONDS": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                live = httpx.get(f"http://127.0.0.1:{option_port}/health/live", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve did not answer on --port"
                time.sleep(0.1)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{settings_port}/health/live", timeout=1)
    finally:
        assert stop_server(process) == 0  # type: ignore[arg-type]  # its output is not captured

    assert live.status_code == 200


def test_a_bad_serve_option_is_one_line_naming_it(tmp_path: Path) -> None:
    port = str(free_port())
    same_as_metrics = _quoin(tmp_path, "serve", "--port", port, METRICS_PORT=port)

    assert same_as_metrics.returncode == 2
    assert same_as_metrics.stderr.count("\n") == 1, same_as_metrics.stderr
    assert same_as_metrics.stderr.startswith("quoin: ")


@pytest.mark.parametrize(
    "command",
    [
        ("database", "upgrade", "--no-prompt"),
        ("users", "create-superuser", "--email", "admin@example.com", "--password", "a long password"),
    ],
)
def test_a_database_that_does_not_answer_is_one_line_naming_the_fix(
    tmp_path: Path, unreachable_database: str, command: tuple[str, ...]
) -> None:
    result = _quoin(tmp_path, *command, DATABASE_URL=unreachable_database)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("quoin: nothing answers at 127.0.0.1:")
    assert "(connection refused)" in result.stderr
    assert "DATABASE_URL" in result.stderr


def test_a_database_that_does_not_exist_is_one_line(tmp_path: Path, database_url: URL) -> None:
    missing = database_url.set(database="no_such_database").render_as_string(hide_password=False)
    result = _quoin(tmp_path, "users", "create-superuser", "--email", "a@example.com", DATABASE_URL=missing)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("quoin: database 'no_such_database' does not exist on 127.0.0.1:")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notaurl", "quoin: invalid setting DATABASE_URL: not a URL"),
        ("mysql://user@host/db", "quoin: invalid setting DATABASE_URL: 'mysql' is not supported"),
    ],
)
def test_a_malformed_or_unsupported_database_url_is_one_line(tmp_path: Path, url: str, message: str) -> None:
    result = _quoin(tmp_path, "--version", DATABASE_URL=url)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(message)


async def test_the_exported_openapi_document_is_the_served_one(tmp_path: Path, client: httpx.AsyncClient) -> None:
    served = (await client.get("/schema/openapi.json")).json()
    exported = _quoin(tmp_path, "schema", "openapi", "--output", "openapi.json")

    assert exported.returncode == 0, exported.stderr
    document = json.loads((tmp_path / "openapi.json").read_text())
    assert document == served
    assert all("security" in operation for item in document["paths"].values() for operation in item.values())


def test_a_bad_email_is_named_in_plain_words_by_the_cli(tmp_path: Path, database_url: URL) -> None:
    url = database_url.render_as_string(hide_password=False)
    result = _quoin(
        tmp_path, "users", "create-superuser", "--email", "not-an-email", "--password", "x" * 12, DATABASE_URL=url
    )

    assert result.returncode == 1
    assert result.stderr.strip().endswith("email: not a valid email address"), result.stderr


def test_litestars_own_cli_finds_the_app_from_the_project_root() -> None:
    root = Path(__file__).resolve().parents[1]
    litestar = Path(sys.executable).with_name("litestar")
    result = subprocess.run(
        [str(litestar), "routes"], cwd=root, env=clean_environment(), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "/api/v1/users" in result.stdout


def test_an_openapi_export_to_an_unwritable_path_is_one_line_about_the_file(tmp_path: Path) -> None:
    result = _quoin(tmp_path, "schema", "openapi", "--output", str(tmp_path / "no" / "such" / "dir.json"))

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "no/such/dir.json" in result.stderr
    assert "PostgreSQL" not in result.stderr
