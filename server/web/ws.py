"""The WebSocket endpoint: moves frames between a socket and its ``Session``."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from server.auth.web import connection_guard
from server.entities.web.keys import ENTITY_HINTS
from server.hub.session import Session
from server.observability import METRICS
from server.observability.connection import ConnectionRecord, connection_route
from server.web.keys import HUB, SESSIONS, SETTINGS
from server.web.outbox import Outbox

log = logging.getLogger(__name__)


@connection_route
async def websocket(request: web.Request) -> web.WebSocketResponse:
    """``GET /v1/ws``: one client's protocol v1 connection.

    Everything below stays in memory while the connection is open, so it is kept to one frame:
    the middlewares pass this route through (``connection_route``) and ``ConnectionRecord``
    logs and counts it instead, and the loop awaits ``receive`` directly (``async for`` would
    add a frame).
    """
    with ConnectionRecord(request) as record:
        ws = await _upgraded(request)
        record.status = ws.status
        outbox, session = _connection(request, ws)
        sessions = request.app[SESSIONS]
        sessions.add(ws)
        try:
            while (message := await ws.receive()).type not in _ENDED:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await session.receive_frame(message.data)
                if session.close_code is not None:
                    await _flushed(outbox)  # the error that explains the close goes out first
                    await ws.close(code=session.close_code, message=session.close_reason.encode())
                if outbox.overflowed:
                    break
            if ws.close_code == WSCloseCode.MESSAGE_TOO_BIG:
                log.info("closed a connection whose frame exceeded the size limit")
        finally:
            sessions.discard(ws)
            session.disconnect()
            await outbox.close()
    return ws


_ENDED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)


async def _upgraded(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(
        heartbeat=settings.heartbeat_seconds,
        max_msg_size=settings.limits.max_frame_bytes + 1,  # aiohttp refuses max_msg_size itself
        compress=False,
    )
    await ws.prepare(request)
    return ws


def _connection(request: web.Request, ws: web.WebSocketResponse) -> tuple[Outbox, Session]:
    """The send queue and the protocol logic of a new connection."""
    settings = request.app[SETTINGS]
    outbox = Outbox(
        ws,
        request.transport,
        settings.limits.max_send_buffer,
        on_overflow=request.app[METRICS].slow_consumer_closed,
    )
    session = Session(
        request.app[HUB],
        settings.limits,
        outbox.send,
        guard=connection_guard(request, ws),
        when_sent=outbox.when_sent,
        changes=request.app.get(ENTITY_HINTS),
    )
    return outbox, session


async def _flushed(outbox: Outbox) -> None:
    done = asyncio.get_running_loop().create_future()

    def release() -> None:
        if not done.done():
            done.set_result(None)

    outbox.when_sent(release)
    await done
