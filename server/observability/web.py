"""The metrics over HTTP: the ``GET /metrics`` route, the middleware that counts REST requests by
route template and status, and the application key under which the ``Metrics`` object lives."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from server.observability.metrics import Metrics

METRICS = web.AppKey("metrics", Metrics)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

routes = web.RouteTableDef()

UNMATCHED_ROUTE = "unmatched"  # every URL no route knows shares one label value


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Every metric of this process in the Prometheus text format."""
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def route_template(request: web.Request) -> str:
    """The canonical path of the route that matched (``/v1/docs/{doc}``), never the raw URL."""
    match_info = request.match_info
    resource = match_info.route.resource
    if resource is None or match_info.http_exception is not None:  # no route: 404, 405
        return UNMATCHED_ROUTE
    return resource.canonical


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every request by method, route template and status, and time the REST ones."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        seconds = time.perf_counter() - started
        observe_request(
            request.app[METRICS], request.method, route_template(request), status, seconds
        )


def observe_request(
    metrics_: Metrics, method: str, route: str, status: int, seconds: float
) -> None:
    """Count a request (``route``: its template) that ended with ``status`` after ``seconds``;
    time it unless it was a WebSocket (101), whose duration is its lifetime, not a response
    time."""
    metrics_.http_requests.labels(method, route, str(status)).inc()
    if status != 101:
        metrics_.http_request_duration.labels(route).observe(seconds)
