"""Reading the served OpenAPI document as a docs page reader does: the example it shows for a body."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["documented_examples", "example_of", "same_shape"]


async def documented_examples(client: httpx.AsyncClient, path: str, method: str) -> tuple[Any, Any]:
    """The example request body (None without one) and the example 2xx body (None without one) of an operation."""
    document = (await client.get("/schema/openapi.json")).json()
    operation = document["paths"][path][method]
    body = operation.get("requestBody")
    request = example_of(document, _only_schema(body)) if body else None
    success = next(answer for status, answer in operation["responses"].items() if status.startswith("2"))
    response = example_of(document, _only_schema(success)) if "content" in success else None
    return request, response


def _only_schema(described: dict[str, Any]) -> dict[str, Any]:
    (media,) = described["content"].values()
    schema: dict[str, Any] = media["schema"]
    return schema


def example_of(document: dict[str, Any], schema: dict[str, Any], *, missing: list[str] | None = None) -> Any:
    """The value a docs renderer shows for ``schema``: the first of its ``examples``, else one built from its parts.

    Scalar builds a body's example so; a leaf with nothing to show (no example, no enum or const)
    is appended to ``missing`` as a JSON pointer-like path and shown as None.
    """
    found = missing if missing is not None else []
    return _example(document, schema, "", found)


def _example(document: dict[str, Any], schema: dict[str, Any], where: str, missing: list[str]) -> Any:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return _example(document, document["components"]["schemas"][name], where, missing)
    shown = schema.get("examples") or ([schema["const"]] if "const" in schema else schema.get("enum"))
    if shown:
        return shown[0]
    if "properties" in schema:
        return {
            name: _example(document, part, f"{where}/{name}", missing) for name, part in schema["properties"].items()
        }
    if schema.get("type") == "array":
        return [_example(document, schema["items"], f"{where}/0", missing)]
    missing.append(where or "/")
    return None


def same_shape(example: Any, answer: Any) -> bool:
    """Whether ``example`` has the keys and JSON types of ``answer``, all the way down (null matches anything)."""
    if example is None or answer is None:
        return True
    if isinstance(answer, dict):
        return (
            isinstance(example, dict)
            and example.keys() == answer.keys()
            and all(same_shape(example[key], answer[key]) for key in answer)
        )
    if isinstance(answer, list):
        return isinstance(example, list) and bool(example) and all(same_shape(example[0], item) for item in answer)
    return type(example) is type(answer)
