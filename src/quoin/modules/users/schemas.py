"""The users contract: request and response bodies as msgspec Structs, the login form and token among them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from quoin.core.pagination import Page, page_schema
from quoin.core.text import NO_CONTROL_CHARACTERS, pattern_meaning, single_line

__all__ = [
    "Email",
    "FullName",
    "LoginForm",
    "Password",
    "TokenResponse",
    "UserCreate",
    "UserOrderField",
    "UserPage",
    "UserRead",
    "UserUpdate",
    "normalize_email",
]

# Explicit ASCII classes: JSON Schema's \s differs from Python's. Surrounding
# spaces are accepted and trimmed; the address itself is the common
# dot-atom form with a dotted DNS domain (no quoted local parts, no IDN).
_EMAIL_PATTERN = (
    r"^[ \t]*[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}[ \t]*$"
)

Email = Annotated[
    str,
    msgspec.Meta(
        min_length=6,
        max_length=254,
        pattern=pattern_meaning(_EMAIL_PATTERN, "not a valid email address"),
        description="Email address; trimmed and compared case-insensitively.",
        examples=["ada@example.com"],
    ),
]
Password = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=128,
        description="8 to 128 characters; stored only as an Argon2 hash.",
        examples=["correct horse battery staple"],
    ),
]
FullName = Annotated[
    str, single_line(max_length=255, description="Display name; no control characters.", example="Ada Lovelace")
]

# Examples of the documented bodies, one person throughout so a reader can follow her through the docs page.
_USER_ID = Annotated[UUID, msgspec.Meta(examples=["0b9a3b5e-6f1d-4c1e-9a63-2f4b1c8d7e10"])]
_SIGNED_UP_AT = Annotated[datetime, msgspec.Meta(examples=["2026-03-14T09:26:53.589793Z"])]


def normalize_email(email: str) -> str:
    """The canonical form of an email: trimmed and lower-cased (the one place this rule lives)."""
    return email.strip(" \t").lower()


class UserCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Sign-up body."""

    email: Email
    password: Password
    full_name: FullName | None = None


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Partial update: only the fields sent are changed; ``full_name: null`` clears it."""

    email: Annotated[Email, msgspec.Meta(examples=["ada.king@example.com"])] | msgspec.UnsetType = msgspec.UNSET
    password: Annotated[Password, msgspec.Meta(examples=["a longer passphrase for 2027"])] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    full_name: Annotated[FullName, msgspec.Meta(examples=["Ada King"])] | msgspec.UnsetType | None = msgspec.UNSET
    is_active: (
        Annotated[bool, msgspec.Meta(description="Superusers only: false deactivates the account.", examples=[True])]
        | msgspec.UnsetType
    ) = msgspec.UNSET
    is_superuser: (
        Annotated[bool, msgspec.Meta(description="Superusers only.", examples=[False])] | msgspec.UnsetType
    ) = msgspec.UNSET


class UserRead(msgspec.Struct, kw_only=True):
    """A user as clients see it: never a password or hash."""

    id: _USER_ID
    email: Annotated[str, msgspec.Meta(examples=["ada@example.com"])]
    full_name: Annotated[str, msgspec.Meta(examples=["Ada Lovelace"])] | None
    is_active: Annotated[bool, msgspec.Meta(examples=[True])]
    is_superuser: Annotated[bool, msgspec.Meta(examples=[False])]
    created_at: _SIGNED_UP_AT
    updated_at: _SIGNED_UP_AT


# One page of a user list.
UserPage = Annotated[Page[UserRead], page_schema("UserPage")]


class UserOrderField(enum.StrEnum):
    """Columns a user list can be ordered by."""

    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    EMAIL = "email"


class LoginForm(msgspec.Struct, kw_only=True):
    """Form fields of a password grant; other OAuth2 fields (``scope``, ``client_id``) are accepted and ignored."""

    username: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=254,
            pattern=NO_CONTROL_CHARACTERS,
            description="The account's email.",
            examples=["ada@example.com"],
        ),
    ]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128, examples=["correct horse battery staple"])]
    grant_type: Literal["password"] | None = None


class TokenResponse(msgspec.Struct, kw_only=True):
    """An access token and how long it lives."""

    access_token: Annotated[
        str,
        msgspec.Meta(
            description="A JWT to send as `Authorization: Bearer <token>`.",
            examples=[
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwYjlhM2I1ZS02ZjFkLTRjMWUtOWE2My0yZjRiMWM4ZDdlMTAiLCJ"
                "pYXQiOjE3NzM0ODAzMTMsImV4cCI6MTc3MzQ4MTIxM30.Yk6c0XwTu1V0b5wq3m8Jm1YV4xZQv2z6t5rKpQe9N0s"
            ],
        ),
    ]
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  # the OAuth2 token type, not a secret
    expires_in: Annotated[int, msgspec.Meta(description="Seconds until the token expires.", examples=[900])]
