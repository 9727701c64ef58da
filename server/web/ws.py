"""The WebSocket endpoint: moves frames between a socket and its ``Session``."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from server.auth.web import connection_guard
from server.entities.web.keys import ENTITY_HINTS
from server.hub.session import Session
from server.observability import METRICS
from server.web.keys import HUB, SESSIONS, SETTINGS
from server.web.outbox import Outbox

log = logging.getLogger(__name__)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """``GET /v1/ws``: one client's protocol v1 connection."""
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(
        heartbeat=settings.heartbeat_seconds,
        max_msg_size=settings.limits.max_frame_bytes + 1,  # aiohttp refuses max_msg_size itself
        compress=False,
    )
    await ws.prepare(request)
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
    sessions = request.app[SESSIONS]
    sessions.add(ws)
    try:
        async for message in ws:
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


async def _flushed(outbox: Outbox) -> None:
    done = asyncio.get_running_loop().create_future()

    def release() -> None:
        if not done.done():
            done.set_result(None)

    outbox.when_sent(release)
    await done
