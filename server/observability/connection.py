"""The access line and request metric of a *connection route* (the WebSocket endpoint), recorded
when the connection ends instead of by the middlewares: by the aiohttp handler, or by the lean
WebSocket (``server.web.websocket``), which never passes through aiohttp's middlewares at all.

A middleware that awaits its handler keeps a suspended frame (and its locals) for as long as the
handler runs: for a WebSocket that is the connection's whole life, about 0.4 KB per middleware
per idle connection. The middlewares therefore pass connection routes straight through
(``bypassing_connections``), keeping no frame, and the handler wraps itself in
``ConnectionRecord``, which binds the request id and logs and counts the same line they would.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from types import TracebackType
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from server.observability.logs import (
    REQUEST_ID,
    REQUEST_ID_HEADER,
    access_line,
    request_id_of,
)
from server.observability.metrics import Metrics
from server.observability.web import METRICS, observe_request, route_template

H = TypeVar("H", bound=Handler)

_CONNECTION_HANDLERS: set[object] = set()


def connection_route(handler: H) -> H:
    """Mark ``handler`` as serving a long-lived connection that records its own access line and
    metric with ``ConnectionRecord``; the middlewares leave it alone."""
    _CONNECTION_HANDLERS.add(handler)
    return handler


def bypassing_connections(middleware: Middleware) -> Middleware:
    """``middleware`` for every route but connection routes, whose handler it calls directly.

    The returned function is not a coroutine: for a connection route it returns the handler's
    own awaitable, so nothing of the middleware stays suspended while the connection is open.
    """

    @web.middleware
    def bypassing(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        if request.match_info.handler in _CONNECTION_HANDLERS:
            return handler(request)
        return middleware(request, handler)

    return bypassing


class ConnectionRecord:
    """The access line and request metric of one connection, recorded when it ends.

    The aiohttp route wraps its handler in ``with ConnectionRecord.of(request) as record:``; on
    entry that binds the request id (``REQUEST_ID``; the handler runs in its own task, so the
    binding ends with it), on exit it records ``status`` (the handler sets 101 once upgraded),
    or the status of the HTTP error that escaped, which also gets the ``X-Request-Id`` header.
    The lean WebSocket path (``server.web.websocket``), which has no handler task, calls
    ``finish`` itself when the connection is lost.
    """

    __slots__ = ("method", "metrics", "remote", "request_id", "route", "started", "status")

    def __init__(
        self, metrics: Metrics, *, method: str, route: str, remote: str | None, request_id: str
    ) -> None:
        self.metrics = metrics
        self.method = method
        self.route = route
        self.remote = remote
        self.request_id = request_id
        self.started = time.perf_counter()
        self.status = 500

    @classmethod
    def of(cls, request: web.Request) -> ConnectionRecord:
        """The record of a connection route's request."""
        return cls(
            request.app[METRICS],
            method=request.method,
            route=route_template(request),
            remote=request.remote,
            request_id=request_id_of(request),
        )

    def __enter__(self) -> ConnectionRecord:
        REQUEST_ID.set(self.request_id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if isinstance(exc, web.HTTPException):
            self.status = exc.status
            exc.headers[REQUEST_ID_HEADER] = self.request_id
        self.finish()

    def finish(self) -> None:
        """Log the ``coedit.access`` line and count ``coedit_http_requests_total``."""
        seconds = time.perf_counter() - self.started
        access_line(self.method, self.route, self.remote, self.request_id, self.status, seconds)
        observe_request(self.metrics, self.method, self.route, self.status, seconds)
