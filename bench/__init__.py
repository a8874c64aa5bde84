"""The in-repo benchmark harness: ``./run bench`` (see docs/performance.md)."""
