"""The API keys contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from quoin.core.pagination import Page, page_schema
from quoin.core.text import single_line

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyPage", "ApiKeyRead"]

KeyName = Annotated[
    str, single_line(max_length=100, description="A label for the key; no control characters.", example="ci-deployer")
]


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of a key request."""

    name: KeyName
    expires_at: (
        Annotated[
            datetime,
            msgspec.Meta(tz=True, description="When the key stops working (RFC 3339 with offset); never if null."),
        ]
        | None
    ) = None


class ApiKeyRead(msgspec.Struct, kw_only=True):
    """A key as listed: the secret is never shown again."""

    id: UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead, kw_only=True):
    """A new key, with its secret shown this once."""

    key: str


# One page of the caller's keys.
ApiKeyPage = Annotated[Page[ApiKeyRead], page_schema("ApiKeyPage")]
