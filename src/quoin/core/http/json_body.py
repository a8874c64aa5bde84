"""JSON request bodies decode strictly, straight into the type their handler declares: nothing is coerced.

Litestar decodes a body to plain Python values, then converts them together
with every other handler argument in one lenient ``msgspec.convert`` — lenient
because query and path parameters arrive as strings that must become numbers,
booleans or UUIDs. Bodies inherited that leniency: ``"true"`` and ``0`` passed
as booleans, a number as a date-time. Here the body's bytes are decoded into
the declared type with ``strict=True`` instead (one pass, no intermediate
dict), and Litestar's conversion passes the typed value through unchanged; a
value of the wrong JSON type fails as any other schema violation (422).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.serialization import decode_json
from litestar.types import Empty

__all__ = ["StrictJSONRequest"]


class StrictJSONRequest(Request[Any, Any, Any]):
    """The app's request class: ``json()`` answers the body decoded strictly into the handler's ``data`` type."""

    __slots__ = ("_typed_json",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._typed_json: Any = Empty

    async def json(self) -> Any:
        """The body as the handler's declared JSON body type; plain values for handlers that declare none."""
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        media_type = getattr(data.kwarg_definition, "media_type", RequestEncodingType.JSON) if data else None
        if data is None or media_type != RequestEncodingType.JSON:
            return await super().json()
        if self._typed_json is Empty:
            # Raises SerializationException (Litestar: a 400 ClientException) caused by msgspec's
            # DecodeError or ValidationError; problem_details tells the two apart (400 / 422).
            self._typed_json = decode_json(
                await self.body() or b"null",
                target_type=data.annotation,
                type_decoders=self.route_handler.resolve_type_decoders(),
                strict=True,
            )
        return self._typed_json
