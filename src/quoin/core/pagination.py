"""Paging query parameters shared by every list endpoint."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

__all__ = ["MAX_PAGE_SIZE", "Limit", "Offset"]

MAX_PAGE_SIZE = 100
# Bounded so a huge value is a 422, not a database integer overflow.
_MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="Page size (1-100).")]
Offset = Annotated[int, QueryParameter(ge=0, le=_MAX_OFFSET, description="Rows to skip.")]
