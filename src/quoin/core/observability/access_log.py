"""What every request leaves behind: an access-log line, Prometheus samples, a well-named span.

Litestar runs middleware only for routed requests, so the work is split:
``RequestContextMiddleware`` (outermost on every route) binds the request id
into the log context, notes the start time and counts requests in progress;
the app-level ``before_send`` hook that ``response_observer`` makes sees every
response (routing 404/405 included) and, on the last body message, writes the
access line and the metrics. Both read only scope fields: no headers, no
bodies. Made with ``metrics=False`` (``METRICS_ENABLED=false``), neither counts.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace

from quoin.core.http.request_id import request_id_of
from quoin.core.http.routes import OPERATIONAL_PATH_PREFIXES
from quoin.core.observability.metrics import REQUEST_DURATION, REQUESTS, REQUESTS_IN_PROGRESS

__all__ = [
    "UNMATCHED_ROUTE",
    "RequestContextMiddleware",
    "note_user_id",
    "response_observer",
    "user_id_of",
]

UNMATCHED_ROUTE = "<unmatched>"

_STARTED = "quoin.started"
_STATUS = "quoin.status"
_USER_ID = "quoin.user_id"
_access_log = structlog.get_logger("quoin.access")


def note_user_id(scope: Scope, user_id: object) -> None:
    """Record who made the request, for the access log and per-user limits (authentication calls this)."""
    _state(scope)[_USER_ID] = str(user_id)


def user_id_of(scope: Scope) -> str | None:
    """The authenticated caller's id, if authentication ran and succeeded."""
    user_id = _state(scope).get(_USER_ID)
    return None if user_id is None else str(user_id)


_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(scope: Scope) -> str:
    # Clients choose the method; anything unusual is one label, not a new metric series each.
    method = str(scope.get("method", "GET"))
    return method if method in _KNOWN_METHODS else "OTHER"


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


class RequestContextMiddleware(ASGIMiddleware):
    """Bind ``request_id`` for everything logged while handling, time the request, count it in progress."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, *, metrics: bool = True) -> None:
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Run the rest of the route's stack inside the request's context."""
        _state(scope)[_STARTED] = time.perf_counter()
        in_progress = None
        if self.metrics:
            in_progress = REQUESTS_IN_PROGRESS.labels(_method(scope), scope.get("path_template", UNMATCHED_ROUTE))
            in_progress.inc()
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id_of(scope)):
                await next_app(scope, receive, send)
        finally:
            if in_progress is not None:
                in_progress.dec()


def response_observer(*, metrics: bool = True) -> Callable[[Message, Scope], Awaitable[None]]:
    """A ``before_send`` hook: name the span after the route, then account for the finished response."""

    async def observe_response(message: Message, scope: Scope) -> None:
        if scope["type"] != ScopeType.HTTP:
            return
        state = _state(scope)
        if message["type"] == "http.response.start":
            state[_STATUS] = message["status"]
            state.setdefault(_STARTED, time.perf_counter())
            template = scope.get("path_template")
            span = trace.get_current_span()
            if template and span.is_recording():
                span.update_name(f"{_method(scope)} {template}")
                span.set_attribute("http.route", template)
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            _account(scope, state, metrics=metrics)

    return observe_response


def _account(scope: Scope, state: dict[str, Any], *, metrics: bool) -> None:
    duration = time.perf_counter() - state.get(_STARTED, time.perf_counter())
    status = int(state.get(_STATUS, 500))
    route = scope.get("path_template") or UNMATCHED_ROUTE
    method = _method(scope)
    if metrics:
        REQUESTS.labels(method, route, status).inc()
        REQUEST_DURATION.labels(method, route, status).observe(duration)
    client = scope.get("client")
    log = _access_log.debug if scope["path"].startswith(OPERATIONAL_PATH_PREFIXES) else _access_log.info
    log(
        "request",
        request_id=request_id_of(scope),
        method=method,
        route=route,
        status=status,
        duration_ms=round(duration * 1000, 3),
        client=client[0] if client else None,
        user_id=user_id_of(scope),
    )
