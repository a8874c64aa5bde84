"""Constraints shared by free-text fields of the contracts."""

from __future__ import annotations

import msgspec

__all__ = ["NO_CONTROL_CHARACTERS", "human_message", "pattern_meaning", "single_line"]

_REGEX_MESSAGE = "Expected `str` matching regex "
_PATTERN_MEANINGS: dict[str, str] = {}


def pattern_meaning(pattern: str, meaning: str) -> str:
    """Record what ``pattern`` means to a person (e.g. "not a valid email address"); returns the pattern."""
    _PATTERN_MEANINGS[repr(pattern)] = meaning  # msgspec names the pattern by its repr
    return pattern


def human_message(message: str) -> str:
    """Msgspec's message for one field, with a regular expression replaced by what it means."""
    if not message.startswith(_REGEX_MESSAGE):
        return message
    return _PATTERN_MEANINGS.get(message.removeprefix(_REGEX_MESSAGE), "not in the expected format")


# No C0 control characters or DEL: they break logs and terminals, and
# PostgreSQL rejects NUL in text. Explicit ranges, because JSON Schema's
# regex classes differ from Python's.
NO_CONTROL_CHARACTERS = pattern_meaning(r"^[^\x00-\x1f\x7f]+$", "must not contain control characters")


def single_line(*, max_length: int, description: str, example: str) -> msgspec.Meta:
    """Constraints for a non-empty, single-line text field of at most ``max_length`` characters."""
    return msgspec.Meta(
        min_length=1,
        max_length=max_length,
        pattern=NO_CONTROL_CHARACTERS,
        description=description,
        examples=[example],
    )
