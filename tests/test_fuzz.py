"""Property-based fuzzing of every documented operation, from our own OpenAPI document (schemathesis).

A real server (``quoin serve``) on its own database; every generated request
is sent as a superuser, and every response must be a non-5xx that matches
what the document says (status, content type, body schema). One check is left
out: schema-valid data may still break a business rule the schema cannot state
(e.g. an expiry in the past), which is a documented 422.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy.engine import URL

from tests.support.helpers import PASSWORD
from tests.support.serve import create_superuser, start_server, stop_server

# Starts servers or processes of its own: left out of the fast tier (-m "not process").
pytestmark = pytest.mark.process

ADMIN = "fuzz.admin@example.com"
EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def fuzz_server(own_database: URL, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    cwd: Path = tmp_path_factory.mktemp("fuzz")
    own = {
        "DATABASE_URL": own_database.render_as_string(hide_password=False),
        "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1",
        "RATE_LIMIT_ENABLED": "false", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    create_superuser(cwd, ADMIN, **own)
    process, base = start_server(cwd, **own)
    try:
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD}).json()
        yield base, {"Authorization": f"Bearer {token['access_token']}"}
    finally:
        stop_server(process)


def test_every_operation_answers_as_documented(fuzz_server: tuple[str, dict[str, str]]) -> None:
    base, admin = fuzz_server
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    # schemathesis' own pytest integration does not run on this pytest; its strategies drive hypothesis directly.
    operations = [result.ok() for result in schema.get_all_operations()]
    failures: dict[str, str] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=base, headers=admin, excluded_checks=[positive_data_acceptance])

        try:
            answers_as_documented()
        except Exception as exc:  # gather every operation's failure, then report them all
            failures[operation.label] = str(exc)[:2000]

    assert len(operations) >= 12
    assert failures == {}
