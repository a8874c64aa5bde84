"""Entities and rows as response Structs, field by field by name: the one way the app builds its contracts.

A Struct filled by position would silently swap values when its fields or a
statement's columns are reordered; by name, a field the source lacks fails
loudly instead. ``columns_for`` derives what a statement selects from the
Struct itself, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from sqlalchemy import Row
from sqlalchemy.orm import InstrumentedAttribute

__all__ = ["columns_for", "to_struct"]

S = TypeVar("S", bound=msgspec.Struct)


def columns_for(struct_type: type[msgspec.Struct], model: type[Any]) -> tuple[InstrumentedAttribute[Any], ...]:
    """The ``model``'s columns named like ``struct_type``'s fields: what a statement selects to fill it.

    A field the model has no column for is a ``TypeError`` at import, not a wrong answer later.
    """
    columns = []
    for field in msgspec.structs.fields(struct_type):
        column = getattr(model, field.name, None)
        if not isinstance(column, InstrumentedAttribute):
            raise TypeError(f"{model.__name__} has no column for {struct_type.__name__}.{field.name}")
        columns.append(column)
    return tuple(columns)


def to_struct(struct_type: type[S], source: object) -> S:
    """``source`` (an entity, a ``Row`` or a mapping of column names) as ``struct_type``, each field by its name.

    A field the source lacks, or a value of the wrong type, raises
    ``msgspec.ValidationError``; the order of either side does not matter.
    """
    values = source._mapping if isinstance(source, Row) else source  # Row's public mapping view
    return msgspec.convert(values, struct_type, from_attributes=True)
