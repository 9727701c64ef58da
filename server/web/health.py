"""Liveness and readiness probes."""

from __future__ import annotations

from aiohttp import web

from server.web.keys import STORE

routes = web.RouteTableDef()
SHUTTING_DOWN = web.AppKey("shutting_down", list[bool])


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """200 while the process runs."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """200 when storage answers and the server is not shutting down, else 503."""
    if request.app[SHUTTING_DOWN]:
        return web.json_response({"status": "shutting down"}, status=503)
    try:
        await request.app[STORE].document_exists("readyz")
    except Exception as exc:
        return web.json_response({"status": "storage unavailable", "error": str(exc)}, status=503)
    return web.json_response({"status": "ready"})
