"""What the system feature expects of the shared checks: its probes are public and documented."""

from __future__ import annotations

from tests.support.expectations import Expectations

EXPECTATIONS = Expectations(
    documented_errors={("/health/live", "get"): frozenset(), ("/health/ready", "get"): frozenset({"503"})},
    public=frozenset({("/health/live", "get"), ("/health/ready", "get")}),
)
