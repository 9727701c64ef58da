"""``GET /v1/events``: change hints as Server-Sent Events, for clients without WebSocket.

Each hint is ``event: changed`` with the same JSON as the WebSocket ``changed`` message. Hints
pile up coalesced (one per collection, the newest position), so a slow reader costs no memory.
A revoked read access is ``event: revoked`` with the WebSocket's ``forbidden`` error message,
and ends that collection's hints (and the stream, once no collection is left).
"""

from __future__ import annotations

import asyncio
import contextlib

import orjson
from aiohttp import web

from server.entities.hints import HintSubscription, revoked_message
from server.entities.web import http
from server.entities.web.keys import ENTITY_HINTS, ENTITY_SERVICE

routes = web.RouteTableDef()
KEEPALIVE_SECONDS = 15.0


class _Pending:
    """What waits to be written: the newest hint position per collection, and revocations."""

    def __init__(self) -> None:
        self.hints: dict[str, int] = {}
        self.revoked: list[str] = []
        self.ready = asyncio.Event()
        self.stopped = False

    def add(self, collection: str, seq: int) -> None:
        self.hints[collection] = max(seq, self.hints.get(collection, 0))
        self.ready.set()

    def revoke(self, collection: str) -> None:
        self.hints.pop(collection, None)  # taken from the notifier before the revocation
        self.revoked.append(collection)
        self.ready.set()

    def stop(self) -> None:
        self.stopped = True
        self.ready.set()

    def take(self) -> tuple[list[str], dict[str, int]]:
        revoked, self.revoked = self.revoked, []
        hints, self.hints = self.hints, {}
        self.ready.clear()
        return revoked, hints


@routes.get("/v1/events")
@http.handles_errors
async def events(request: web.Request) -> web.StreamResponse:
    """``?collections=a,b`` (default: every readable one): a stream of ``changed`` hints, and a
    ``revoked`` event for each collection whose read access is revoked; the stream ends when
    none is left."""
    service = request.app[ENTITY_SERVICE]
    user = await service.access.identify(request.headers)
    names = sorted(set(http.query_list(request, "collections") or service.config.collections))
    for name in names:
        service.collection(name)
    pending = _Pending()
    subscription = HintSubscription(
        service.notifier,
        service.access,
        user,
        names,
        pending.add,
        on_revoked=pending.revoke,
        on_stop=pending.stop,
    )
    await subscription.authorize()
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    try:
        await response.prepare(request)
        await response.write(b": subscribed " + orjson.dumps(names) + b"\n\n")
        await _stream(request, response, pending, subscription)
    except (ConnectionError, RuntimeError):
        pass  # the client went away
    finally:
        subscription.close()
    return response


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    pending: _Pending,
    subscription: HintSubscription,
) -> None:
    hints = request.app[ENTITY_HINTS]
    while not pending.stopped:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pending.ready.wait(), KEEPALIVE_SECONDS)
        revoked, batch = pending.take()
        if not revoked and not batch:
            await response.write(b": keep-alive\n\n")
            continue
        for collection in revoked:
            data = orjson.dumps(revoked_message(collection))
            await response.write(b"event: revoked\ndata: " + data + b"\n\n")
        for collection, seq in sorted(batch.items()):
            data = orjson.dumps(hints.hint(collection, seq))
            await response.write(b"event: changed\ndata: " + data + b"\n\n")
        if not subscription.collections:
            return  # every collection was revoked: nothing more can come
