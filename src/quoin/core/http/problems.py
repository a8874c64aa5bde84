"""Every error, from every layer, as an RFC 9457 ``application/problem+json`` document.

Litestar's ``ProblemDetailsPlugin`` does the plumbing; this module decides
what each kind of exception means for a client: routing and HTTP errors keep
their status, body decoding failures become 400 (not JSON) or 422 (JSON that
breaks the contract), domain errors carry their own status, and anything else
is a 500 whose details stay in the log. Layers above add converters for their
own exceptions (the database's: ``quoin.db.problems``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, InternalServerException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.types import Scope
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from quoin.core.errors import BadRequestError, FieldError, QuoinError, ValidationError
from quoin.core.http.request_id import request_id_of
from quoin.core.text import human_message

__all__ = ["ProblemConverter", "crash", "problem", "problem_details_plugin", "render_problem"]
_GENERIC_CRASH_DETAIL = "An unexpected error occurred; it has been logged"
_CRASH_EVENT = "unhandled_exception"

# msgspec reports the failing location as "... - at `$.field[0].sub`" or names
# the field in backticks ("Object missing required field `email`").
_MSGSPEC_PATH = re.compile(r"\s+-\s+at\s+`\$\.?([^`]*)`$")
_MSGSPEC_NAMED_FIELD = re.compile(r"field `([^`]+)`")


def _requested_path(request: Request[Any, Any, Any]) -> str:
    """The path exactly as the client sent it (Litestar's routing drops a trailing slash)."""
    raw_path = request.scope.get("raw_path")
    return raw_path.decode("latin-1") if raw_path else request.url.path


class _Problem(ProblemDetailsException):
    """A problem document that fills in the members every response carries.

    A problem made from a crash or an outage logs it when rendered, where the
    request (and so its id) is known even if the failure happened in middleware.
    """

    def __init__(self, *args: Any, log_event: str | None = None, cause: BaseException | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.log_event = log_event
        self.cause = cause

    def to_response(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        """Log what needs logging, add ``type``, ``title``, ``instance`` and ``request_id``, then render."""
        request_id = request_id_of(request.scope)
        if self.log_event == _CRASH_EVENT:
            structlog.get_logger("quoin.errors").error(_CRASH_EVENT, request_id=request_id, exc_info=self.cause)
        elif self.log_event is not None:
            structlog.get_logger("quoin.errors").warning(self.log_event, request_id=request_id, error=repr(self.cause))
        self.type_ = self.type_ or "about:blank"
        self.title = self.title or HTTPStatus(self.status_code).phrase
        self.instance = self.instance or _requested_path(request)
        extra = dict(self.extra) if isinstance(self.extra, Mapping) else {}
        extra["request_id"] = request_id
        self.extra = extra
        return super().to_response(request)


def render_problem(scope: Scope, status: int, detail: str) -> bytes:
    """The problem document, encoded, for an answer Litestar makes outside its exception handling."""
    response = _Problem(status_code=status, detail=detail).to_response(Request(scope))
    return response.render(response.content, str(response.media_type))


def _problem(error: QuoinError, extra: dict[str, Any] | None = None) -> ProblemDetailsException:
    return _Problem(
        status_code=error.status,
        detail=error.detail,
        headers=error.headers or None,
        extra=extra,
    )


def problem(
    error: QuoinError, *, logged_as: str | None = None, cause: BaseException | None = None
) -> ProblemDetailsException:
    """The problem document of a domain error; ``logged_as`` names the warning logged with ``cause`` when rendered."""
    return _Problem(
        status_code=error.status,
        detail=error.detail,
        headers=error.headers or None,
        log_event=logged_as,
        cause=cause,
    )


def _field_errors_extra(errors: list[FieldError]) -> dict[str, Any]:
    return {"errors": [{"field": e.field, "message": e.message} for e in errors]}


def _field_error(message: str, field: str = "body") -> FieldError:
    """Name the failing field from a msgspec message; ``field`` is the fallback (the whole body)."""
    if located := _MSGSPEC_PATH.search(message):
        return FieldError(field=located.group(1) or field, message=human_message(message[: located.start()]))
    named = _MSGSPEC_NAMED_FIELD.search(message)
    return FieldError(field=named.group(1) if named else field, message=human_message(message))


def _decoding_failure(exc: BaseException) -> QuoinError | None:
    """A body that is not JSON (400) or JSON that breaks the contract (422), found on the cause chain."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, msgspec.ValidationError):
            return ValidationError("The request body does not match the schema", errors=[_field_error(str(cause))])
        if isinstance(cause, msgspec.DecodeError):
            return BadRequestError("The request body is not valid JSON")
        cause = cause.__cause__
    return None


def _field_error_of(item: Mapping[str, Any]) -> FieldError:
    """One entry of Litestar's validation ``extra``; ``data`` is the body as a whole."""
    key = str(item.get("key", "body"))
    message = str(item.get("message", "Invalid value"))
    return _field_error(message, "body") if key == "data" else FieldError(field=key, message=message)


# Litestar's signal that the client hung up while its request body was being read.
_CLIENT_GONE = "client disconnected prematurely"
# nginx's status for it: not a server error (no crash log, no 5xx in the metrics); nobody receives it.
_CLIENT_CLOSED_REQUEST = 499


def _from_http_exception(exc: HTTPException) -> ProblemDetailsException:
    if isinstance(exc, InternalServerException) and exc.detail == _CLIENT_GONE:
        return _Problem(
            status_code=_CLIENT_CLOSED_REQUEST,
            title="Client Closed Request",
            detail="The client closed the connection before its request was read",
        )
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        errors = [_field_error_of(item) for item in exc.extra if isinstance(item, Mapping)]
        error = ValidationError("The request does not match the schema", errors=errors)
        return _problem(error, _field_errors_extra(error.errors))
    if exc.status_code == HTTPStatus.BAD_REQUEST and (decoded := _decoding_failure(exc)) is not None:
        extra = _field_errors_extra(decoded.errors) if isinstance(decoded, ValidationError) else None
        return _problem(decoded, extra)
    return _Problem(status_code=exc.status_code, detail=exc.detail, headers=exc.headers)


def _from_domain_error(exc: QuoinError) -> ProblemDetailsException:
    extra = _field_errors_extra(exc.errors) if isinstance(exc, ValidationError) and exc.errors else None
    return _problem(exc, extra)


def _from_unicode_error(exc: UnicodeDecodeError) -> ProblemDetailsException:
    # Raised while decoding a request body or parameter whose bytes are not UTF-8.
    return _problem(BadRequestError("The request is not valid UTF-8"))


def _from_recursion_error(exc: RecursionError) -> ProblemDetailsException:
    # msgspec gives up on absurdly nested JSON this way; any other recursion is a bug.
    if "deserializing" in str(exc):
        return _problem(BadRequestError("The request body is nested too deeply"))
    return crash(exc)


def crash(exc: BaseException) -> ProblemDetailsException:
    """A 500 with a generic detail; the exception is logged with the request id and marked on the trace."""
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
    return _Problem(
        status_code=HTTPStatus.INTERNAL_SERVER_ERROR, detail=_GENERIC_CRASH_DETAIL, log_event=_CRASH_EVENT, cause=exc
    )


ProblemConverter = Callable[[Any], ProblemDetailsException]

_CONVERTERS: Mapping[type[Exception], ProblemConverter] = {
    HTTPException: _from_http_exception,
    QuoinError: _from_domain_error,
    RecursionError: _from_recursion_error,
    UnicodeDecodeError: _from_unicode_error,
    Exception: crash,
}


def problem_details_plugin(converters: Mapping[type[Exception], ProblemConverter]) -> ProblemDetailsPlugin:
    """The plugin that renders every error as problem details; ``converters`` add other layers' exceptions."""
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(exception_to_problem_detail_map={**_CONVERTERS, **converters}),
    )
