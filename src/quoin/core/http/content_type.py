"""A body its route requires must be there (400 otherwise) and come in the declared media type (415 otherwise)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType

from quoin.core.errors import BadRequestError, QuoinError

__all__ = ["UnsupportedMediaTypeError", "require_declared_media_type"]


class UnsupportedMediaTypeError(QuoinError):
    """The body's ``Content-Type`` is not what the route reads."""

    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    default_detail = "Unsupported media type"


def _accepts(declared: str, content_type: str) -> bool:
    if declared == RequestEncodingType.JSON:
        return content_type == "application/json" or content_type.endswith("+json")
    return content_type == declared


async def require_declared_media_type(request: Request[Any, Any, Any]) -> None:
    """``before_request`` hook: refuse a missing body, or one sent as another media type than the route declares.

    Litestar would otherwise parse any body as JSON whatever its ``Content-Type``,
    and report an empty one as a missing field named ``data`` (422).
    """
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return
    if not (data.is_optional or data.has_default) and not await request.body():
        raise BadRequestError("The request body is empty; this operation needs one")
    if data.kwarg_definition is None:
        return
    media_type = getattr(data.kwarg_definition, "media_type", None)
    declared = str(getattr(media_type, "value", media_type) or "")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if declared and not _accepts(declared, content_type):
        raise UnsupportedMediaTypeError(f"Send the body as {declared}")
