"""The WebSocket endpoint served by aiohttp: the fallback of the lean path.

The front door (``server.web.front_door``) serves every upgrade that opens a connection with
the lean protocol (``server.web.websocket``). This route serves the rest: an upgrade on a
keep-alive connection aiohttp already owns, and requests the front door hands on (handshake
refusals, which get the same answer as on the lean path, logged and counted here).
"""

from __future__ import annotations

import logging

from aiohttp import WSCloseCode, WSMsgType, web

from server.auth.web import bearer_token
from server.observability.connection import ConnectionRecord, connection_route
from server.web.handshake import refusal
from server.web.keys import SESSIONS, SETTINGS
from server.web.session_setup import flushed, open_session

log = logging.getLogger(__name__)

WS_PATH = "/v1/ws"


@connection_route
async def websocket(request: web.Request) -> web.WebSocketResponse:
    """``GET /v1/ws``: one client's protocol v1 connection.

    Everything below stays in memory while the connection is open, so it is kept to one frame:
    the middlewares pass this route through (``connection_route``) and ``ConnectionRecord``
    logs and counts it instead, and the loop awaits ``receive`` directly (``async for`` would
    add a frame).
    """
    with ConnectionRecord.of(request) as record:
        ws = await _upgraded(request)
        record.status = ws.status
        outbox, session = open_session(
            request.app,
            ws,
            request.transport,
            remote=request.remote,
            token=bearer_token(request),
        )
        sessions = request.app[SESSIONS]
        sessions.add(ws)
        try:
            while (message := await ws.receive()).type not in _ENDED:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await session.receive_frame(message.data)
                if session.close_code is not None:
                    await flushed(outbox)  # the error that explains the close goes out first
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
_REFUSALS: dict[int, type[web.HTTPClientError]] = {
    400: web.HTTPBadRequest,
    426: web.HTTPUpgradeRequired,
}


async def _upgraded(request: web.Request) -> web.WebSocketResponse:
    headers = request.headers
    refused = refusal(
        headers.get("Upgrade", ""),
        headers.get("Connection", ""),
        headers.get("Sec-WebSocket-Version", ""),
        headers.get("Sec-WebSocket-Key", ""),
    )
    if refused is not None:
        error = _REFUSALS[refused.status]
        raise error(text=refused.text, headers=dict(refused.headers))
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(
        heartbeat=settings.heartbeat_seconds,
        max_msg_size=settings.limits.max_frame_bytes + 1,  # aiohttp refuses max_msg_size itself
        compress=False,
    )
    await ws.prepare(request)
    return ws
