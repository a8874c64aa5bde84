"""The garbage collector as the started app leaves it: start-up objects frozen, young collections spaced out."""

from __future__ import annotations

import gc

from litestar import Litestar

from quoin.core.runtime.garbage import YOUNG_COLLECTION_THRESHOLD


def test_a_started_app_freezes_its_objects_and_spaces_out_young_collections(app: Litestar) -> None:
    assert gc.get_freeze_count() > 10_000  # modules, routes, schemas: everything alive after start-up
    assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 20, 20)
