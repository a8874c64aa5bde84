"""The token endpoint's contract (OAuth2 password flow, RFC 6749 §4.3)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from quoin.core.text import NO_CONTROL_CHARACTERS

__all__ = ["LoginForm", "TokenResponse"]


class LoginForm(msgspec.Struct, kw_only=True):
    """Form fields of a password grant; other OAuth2 fields (``scope``, ``client_id``) are accepted and ignored."""

    username: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=254, pattern=NO_CONTROL_CHARACTERS, description="The account's email."),
    ]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    grant_type: Literal["password"] | None = None


class TokenResponse(msgspec.Struct, kw_only=True):
    """An access token and how long it lives."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  # the OAuth2 token type, not a secret
    expires_in: Annotated[int, msgspec.Meta(description="Seconds until the token expires.")]
