"""The garbage collector, set for a long-lived server once start-up is done."""

from __future__ import annotations

import gc

__all__ = ["YOUNG_COLLECTION_THRESHOLD", "tune_garbage_collection"]

# Net allocations between two collections of the youngest generation (Python's default: 700).
# A request allocates a few thousand short-lived objects, so the default collects several
# times per request; measured in docs/performance.md ("gc thresholds").
YOUNG_COLLECTION_THRESHOLD = 20_000


def tune_garbage_collection() -> None:
    """Freeze the start-up objects and collect the young generation less often.

    Modules, routes, schemas and compiled statements live as long as the
    process: frozen, no full collection walks them again (a latency spike
    under load, and most of a second at exit). The older generations keep
    being collected every 20 collections of the one below, as objects that
    survive a request are rare.
    """
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, 20, 20)
