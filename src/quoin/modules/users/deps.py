"""Dependency providers for the users controller: the service and the list filters."""

from __future__ import annotations

from typing import Annotated, Literal

from advanced_alchemy.filters import (
    BooleanFilter,
    ComparisonFilter,
    LimitOffset,
    OrderBy,
    SearchFilter,
    StatementFilter,
)
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from quoin.config import Settings
from quoin.core.pagination import Limit, Offset, SortDirection
from quoin.core.ratelimit.limiter import AddressLimit, RateLimiter
from quoin.core.security.passwords import PASSWORDS_STATE_KEY, Passwords
from quoin.core.text import NO_CONTROL_CHARACTERS
from quoin.db.changes import CHANGES_STATE_KEY
from quoin.modules.users.schemas import UserOrderField, normalize_email
from quoin.modules.users.service import UserService
from quoin.modules.users.throttle import LoginThrottle

__all__ = ["provide_login_throttle", "provide_signup_limit", "provide_user_filters", "provide_users_service"]
_TIME_FIELDS = {UserOrderField.CREATED_AT, UserOrderField.UPDATED_AT}


def provide_users_service(db_session: NamedDependency[AsyncSession], state: State) -> UserService:
    """A ``UserService`` bound to this request's session, with the app's password hasher and change feed.

    Both come from the app's state, not as dependencies of their own:
    Litestar resolves two or more dependencies of one level in an anyio task
    group, which cost ~0.1 ms of a ~1 ms request (docs/performance.md).
    """
    passwords: Passwords = state[PASSWORDS_STATE_KEY]
    return UserService(session=db_session, passwords=passwords, changes=state[CHANGES_STATE_KEY])


def _enabled(limiter: RateLimiter, settings: Settings) -> RateLimiter | None:
    return limiter if settings.rate_limit.rate_limit_enabled else None


def provide_login_throttle(
    rate_limiter: NamedDependency[RateLimiter], settings: NamedDependency[Settings]
) -> LoginThrottle:
    """The login limits (per address and per account), on the app's limiter; off with ``RATE_LIMIT_ENABLED=false``."""
    limits = settings.rate_limit
    return LoginThrottle(
        _enabled(rate_limiter, settings), limits.login_rate_limit_per_minute, settings.security.secret_key
    )


def provide_signup_limit(
    rate_limiter: NamedDependency[RateLimiter], settings: NamedDependency[Settings]
) -> AddressLimit:
    """The sign-up limit per client address, on the app's limiter; off with ``RATE_LIMIT_ENABLED=false``."""
    per_minute = settings.rate_limit.signup_rate_limit_per_minute
    return AddressLimit(_enabled(rate_limiter, settings), "signup", per_minute, "Too many sign-ups; see Retry-After")


def provide_user_filters(
    limit: Limit = 20,
    offset: Offset = 0,
    email: Annotated[
        str | None,
        QueryParameter(
            min_length=1, max_length=254, pattern=NO_CONTROL_CHARACTERS, description="Exact email, case-insensitive."
        ),
    ] = None,
    search: Annotated[
        str | None,
        QueryParameter(
            min_length=1, max_length=254, pattern=NO_CONTROL_CHARACTERS, description="Substring of the email."
        ),
    ] = None,
    is_active: Annotated[
        bool | None, QueryParameter(description="Only active (true) or inactive (false) users.")
    ] = None,
    order_by: Annotated[UserOrderField, QueryParameter(description="Sort column.")] = UserOrderField.CREATED_AT,
    sort: Annotated[
        SortDirection | None,
        QueryParameter(description="Sort direction; `desc` by default for time columns, `asc` for email."),
    ] = None,
) -> list[StatementFilter]:
    """The list query parameters of the contract, as advanced-alchemy statement filters."""
    sort = sort or (SortDirection.DESC if order_by in _TIME_FIELDS else SortDirection.ASC)
    direction: Literal["asc", "desc"] = "desc" if sort is SortDirection.DESC else "asc"
    filters: list[StatementFilter] = [
        OrderBy(field_name=order_by.value, sort_order=direction),
        # A stable tie-breaker keeps pages disjoint when the sort column has duplicates.
        OrderBy(field_name="id", sort_order=direction),
        LimitOffset(limit=limit, offset=offset),
    ]
    if email is not None:
        filters.append(ComparisonFilter(field_name="email", operator="eq", value=normalize_email(email)))
    if search is not None:
        filters.append(SearchFilter(field_name="email", value=search.lower(), ignore_case=True, escape_wildcards=True))
    if is_active is not None:
        filters.append(BooleanFilter(field_name="is_active", value=is_active))
    return filters
