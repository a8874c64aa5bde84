"""Database failures as problem details: an outage is a 503 with ``Retry-After``, a unique violation a 409."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from advanced_alchemy.exceptions import AdvancedAlchemyError
from advanced_alchemy.exceptions import NotFoundError as RepositoryNotFoundError
from litestar.plugins.problem_details import ProblemDetailsException
from sqlalchemy.exc import SQLAlchemyError

from quoin.core.errors import NotFoundError
from quoin.core.http.problems import ProblemConverter, crash, problem
from quoin.db.errors import DRIVER_ERRORS, is_database_error, original_error, translate_database_error

__all__ = ["DATABASE_PROBLEMS"]


def _from_database_error(exc: Exception) -> ProblemDetailsException:
    if isinstance(exc, RepositoryNotFoundError):
        return problem(NotFoundError())
    if (translated := translate_database_error(exc)) is None:
        return crash(exc)
    if translated.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return problem(translated, logged_as="database_unavailable", cause=original_error(exc))
    return problem(translated)


def _from_os_error(exc: OSError) -> ProblemDetailsException:
    """A refused or reset connection while talking to the database is an outage; any other OSError is a bug."""
    return _from_database_error(exc) if is_database_error(exc) else crash(exc)


# Driver errors too: SQLAlchemy does not wrap those raised while connecting.
DATABASE_PROBLEMS: Mapping[type[Exception], ProblemConverter] = {
    AdvancedAlchemyError: _from_database_error,
    SQLAlchemyError: _from_database_error,
    **dict.fromkeys(DRIVER_ERRORS, _from_database_error),
    OSError: _from_os_error,
}
