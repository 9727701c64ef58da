"""``GET /v1/events``: change hints as Server-Sent Events, for clients without WebSocket.

Each hint is ``event: changed`` with the same JSON as the WebSocket ``changed`` message. Hints
pile up coalesced (one per collection, the newest position), so a slow reader costs no memory.
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import web

from server.entities.errors import Code, EntityError
from server.entities.web import http
from server.entities.web.keys import ENTITY_HINTS, ENTITY_SERVICE

routes = web.RouteTableDef()
KEEPALIVE_SECONDS = 15.0


class _Pending:
    """Hints waiting to be written: newest position per collection."""

    def __init__(self) -> None:
        self.hints: dict[str, int] = {}
        self.ready = asyncio.Event()
        self.stopped = False

    def add(self, collection: str, seq: int) -> None:
        self.hints[collection] = max(seq, self.hints.get(collection, 0))
        self.ready.set()

    def stop(self) -> None:
        self.stopped = True
        self.ready.set()

    def take(self) -> dict[str, int]:
        hints, self.hints = self.hints, {}
        self.ready.clear()
        return hints


@routes.get("/v1/events")
@http.handles_errors
async def events(request: web.Request) -> web.StreamResponse:
    """``?collections=a,b`` (default: every readable one): a stream of ``changed`` hints."""
    service = request.app[ENTITY_SERVICE]
    user = await service.access.identify(request.headers)
    names = http.query_list(request, "collections") or list(service.config.collections)
    for name in names:
        service.collection(name)
        if not await service.access.may_read(user, name):
            raise EntityError(Code.FORBIDDEN, f"you may not read collection {name!r}")
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    pending = _Pending()
    subscription = service.notifier.subscribe(names, pending.add, on_stop=pending.stop)
    try:
        await response.write(b": subscribed " + orjson.dumps(sorted(set(names))) + b"\n\n")
        await _stream(request, response, pending)
    except (ConnectionError, RuntimeError):
        pass  # the client went away
    finally:
        subscription.close()
    return response


async def _stream(request: web.Request, response: web.StreamResponse, pending: _Pending) -> None:
    hints = request.app[ENTITY_HINTS]
    while not pending.stopped:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending.ready.wait(), KEEPALIVE_SECONDS)
        batch = pending.take()
        if not batch:
            await response.write(b": keep-alive\n\n")
            continue
        for collection, seq in sorted(batch.items()):
            data = orjson.dumps(hints.hint(collection, seq))
            await response.write(b"event: changed\ndata: " + data + b"\n\n")
