"""The API keys contract."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from quoin.core.pagination import Page, page_schema
from quoin.core.text import single_line

__all__ = ["ApiKeyCreate", "ApiKeyCreated", "ApiKeyPage", "ApiKeyRead"]

_PREFIX = "qk_3f9a1c7e5b20"

KeyName = Annotated[
    str, single_line(max_length=100, description="A label for the key; no control characters.", example="ci-deployer")
]


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of a key request."""

    name: KeyName
    expires_at: (
        Annotated[
            datetime,
            msgspec.Meta(
                tz=True,
                description="When the key stops working (RFC 3339 with offset); never if null.",
                examples=["2099-01-01T00:00:00Z"],  # far off: the docs page's Test Request must keep working
            ),
        ]
        | None
    ) = None


class ApiKeyRead(msgspec.Struct, kw_only=True):
    """A key as listed: the secret is never shown again."""

    id: Annotated[UUID, msgspec.Meta(examples=["5d2f7c1a-93e4-4b8e-a0c6-1f7e9b3d2a45"])]
    name: Annotated[str, msgspec.Meta(examples=["ci-deployer"])]
    prefix: Annotated[str, msgspec.Meta(description="The key's public start, to tell keys apart.", examples=[_PREFIX])]
    created_at: Annotated[datetime, msgspec.Meta(examples=["2026-03-14T09:30:00Z"])]
    expires_at: Annotated[datetime, msgspec.Meta(examples=["2099-01-01T00:00:00Z"])] | None
    last_used_at: (
        Annotated[datetime, msgspec.Meta(description="Null until first used.", examples=["2026-03-15T08:12:44Z"])]
        | None
    )


class ApiKeyCreated(ApiKeyRead, kw_only=True):
    """A new key, with its secret shown this once."""

    key: Annotated[
        str,
        msgspec.Meta(
            description="Send as `X-API-Key`. Shown only in this answer; store it now.",
            examples=[f"{_PREFIX}_pXq3v9Jx2mT7bK4sLw8nR1cZ6yHa0eUdFgQiVoN5tYk"],
        ),
    ]


# One page of the caller's keys.
ApiKeyPage = Annotated[Page[ApiKeyRead], page_schema("ApiKeyPage")]
