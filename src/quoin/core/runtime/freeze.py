"""Start-up objects frozen out of the garbage collector's full passes."""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects"]


def freeze_startup_objects() -> None:
    """Move every object alive after start-up out of the garbage collector's sight.

    Modules, routes, schemas and compiled statements live as long as the
    process; without this, each full collection walks them all again (a
    latency spike under load, and most of a second at exit).
    """
    gc.freeze()
