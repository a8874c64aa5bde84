"""Constraints shared by free-text fields of the contracts."""

from __future__ import annotations

import msgspec

__all__ = ["NO_CONTROL_CHARACTERS", "single_line"]

# No C0 control characters or DEL: they break logs and terminals, and
# PostgreSQL rejects NUL in text. Explicit ranges, because JSON Schema's
# regex classes differ from Python's.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]+$"


def single_line(*, max_length: int, description: str, example: str) -> msgspec.Meta:
    """Constraints for a non-empty, single-line text field of at most ``max_length`` characters."""
    return msgspec.Meta(
        min_length=1,
        max_length=max_length,
        pattern=NO_CONTROL_CHARACTERS,
        description=description,
        examples=[example],
    )
