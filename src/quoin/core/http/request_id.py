"""``X-Request-ID`` on every response: the caller's value when sane, otherwise a fresh one.

Litestar runs middleware only for matched routes, so the header is added in an
app-level ``before_send`` hook, which also sees routing 404/405 answers.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

__all__ = ["REQUEST_ID_HEADER", "add_request_id_header", "request_id_of"]

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
_STATE_KEY = "request_id"
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")


def _from_caller(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == _HEADER_KEY:
            return value.decode("ascii") if _SANE_REQUEST_ID.fullmatch(value) else None
    return None


def request_id_of(scope: Scope) -> str:
    """The request's id, chosen once per request and remembered in the scope state."""
    state: dict[str, Any] = scope.setdefault("state", {})
    request_id = state.get(_STATE_KEY)
    if request_id is None:
        request_id = _from_caller(scope) or uuid.uuid4().hex
        state[_STATE_KEY] = request_id
    return str(request_id)


async def add_request_id_header(message: Message, scope: Scope) -> None:
    """``before_send`` hook: stamp the id on the response start message."""
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id_of(scope)
