"""Wires observability into an application: ``/metrics``, the request-id and access-log
middleware, REST request metrics, the gauges read at scrape time and the event loop's lag."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from server.observability import web as metrics_web
from server.observability.connection import bypassing_connections
from server.observability.logs import request_log_middleware, send_request_id
from server.observability.loop_lag import LoopLagProbe
from server.observability.metrics import Metrics
from server.web.keys import HUB, SESSIONS


def install(app: web.Application, metrics: Metrics) -> None:
    """Make ``metrics`` the application's (``app[METRICS]``) and serve it at ``/metrics``.

    The middlewares go first, outside every other one, so they see the final status of each
    request, after errors were mapped to responses. Connection routes (the WebSocket) bypass
    them and record their own line and metric (``server.observability.connection``).
    """
    app[metrics_web.METRICS] = metrics
    app.middlewares[0:0] = [
        bypassing_connections(request_log_middleware),
        bypassing_connections(metrics_web.metrics_middleware),
    ]
    app.on_response_prepare.append(send_request_id)
    app.router.add_routes(metrics_web.routes)
    metrics.watch(
        connections=lambda: len(app[SESSIONS]),
        documents=lambda: app[HUB].open_documents if HUB in app else 0,
    )
    app.cleanup_ctx.append(_loop_lag_context)


async def _loop_lag_context(app: web.Application) -> AsyncIterator[None]:
    probe = LoopLagProbe(app[metrics_web.METRICS].event_loop_lag.observe)
    probe.start()
    yield
    probe.stop()
