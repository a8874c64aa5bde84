"""The domain error hierarchy.

Services raise these; one handler (``quoin.core.http.problems``) turns each
into an RFC 9457 problem document. The status lives here, next to the error,
so the error → status table exists in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

__all__ = [
    "BadRequestError",
    "ConflictError",
    "FieldError",
    "ForbiddenError",
    "NotFoundError",
    "QuoinError",
    "ServiceUnavailableError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "ValidationError",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field, as reported in a problem document's ``errors`` list."""

    field: str
    message: str


class QuoinError(Exception):
    """Base of every error the API reports on purpose."""

    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    default_detail = "An unexpected error occurred"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)


class BadRequestError(QuoinError):
    """A request the server cannot read (not JSON, an unacceptable ``Host``)."""

    status = HTTPStatus.BAD_REQUEST
    default_detail = "Bad request"


class NotFoundError(QuoinError):
    """The resource does not exist (or the caller may not know it does)."""

    status = HTTPStatus.NOT_FOUND
    default_detail = "Resource not found"


class ConflictError(QuoinError):
    """The request breaks a uniqueness or state rule."""

    status = HTTPStatus.CONFLICT
    default_detail = "The request conflicts with the current state of the resource"


class ValidationError(QuoinError):
    """Well-formed input that breaks a business rule."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    default_detail = "Validation failed"

    def __init__(self, detail: str | None = None, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class UnauthorizedError(QuoinError):
    """Missing, invalid or expired credentials."""

    status = HTTPStatus.UNAUTHORIZED
    default_detail = "Authentication required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class ForbiddenError(QuoinError):
    """Authenticated, but not allowed to do this."""

    status = HTTPStatus.FORBIDDEN
    default_detail = "You are not allowed to perform this action"


class TooManyRequestsError(QuoinError):
    """The caller is over its rate limit; ``Retry-After`` says when to come back."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    default_detail = "Too many requests, retry later"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str]) -> None:
        super().__init__(detail, headers=headers)


class ServiceUnavailableError(QuoinError):
    """A dependency (the database) cannot serve the request right now."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable, retry later"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
