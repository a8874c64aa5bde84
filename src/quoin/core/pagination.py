"""Paging shared by every list endpoint: its query parameters and the page it answers."""

from __future__ import annotations

import enum
from typing import Annotated, Generic, TypeVar

import msgspec
from litestar.params import KwargDefinition, QueryParameter

__all__ = ["MAX_PAGE_SIZE", "Limit", "Offset", "Page", "SortDirection", "page_schema"]

T = TypeVar("T")

MAX_PAGE_SIZE = 100
# Bounded so a huge value is a 422, not a database integer overflow.
_MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Page size (1-100).")]
Offset = Annotated[int, QueryParameter(ge=0, le=_MAX_OFFSET, description="Rows to skip.")]


class SortDirection(enum.StrEnum):
    """Ascending or descending; one enum in the document, so a generated client has one type for it."""

    ASC = "asc"
    DESC = "desc"


class Page(msgspec.Struct, Generic[T], kw_only=True):
    """One page of a list: its items, how many match in all, and the window asked for."""

    items: list[T]
    total: Annotated[int, msgspec.Meta(description="Rows matching in all, across pages.", examples=[1])]
    limit: Annotated[int, msgspec.Meta(examples=[20])]
    offset: Annotated[int, msgspec.Meta(examples=[0])]


def page_schema(name: str) -> KwargDefinition:
    """The name of a ``Page`` of some type in the OpenAPI document, given as ``Annotated`` metadata.

    ``UserPage = Annotated[Page[UserRead], page_schema("UserPage")]``. Litestar would name it after the
    item type's module path (``Page_quoin.modules.users.schemas.UserRead_``): unreadable, and it
    changes whenever a module moves.
    """
    return KwargDefinition(schema_component_key=name)
