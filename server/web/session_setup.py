"""A new WebSocket connection's send queue and protocol logic, the same on both paths: the lean
protocol (``server.web.websocket``) and aiohttp's fallback route (``server.web.ws``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.auth.web import ACCESS, connection_guard
from server.entities.web.keys import ENTITY_HINTS
from server.hub.session import Session
from server.observability import METRICS
from server.web.keys import HUB, PACER, SETTINGS
from server.web.open_socket import OpenSocket
from server.web.outbox import Outbox


def open_session(
    app: web.Application,
    socket: OpenSocket,
    transport: asyncio.BaseTransport | None,
    *,
    remote: str | None,
    token: str | None,
) -> tuple[Outbox, Session]:
    """The outbox writing to ``transport`` and the ``Session`` of a connection from ``remote``
    whose upgrade request carried the bearer ``token`` (or none)."""
    settings = app[SETTINGS]
    outbox = Outbox(
        socket,
        transport,
        settings.limits.max_send_buffer,
        pacer=app[PACER],
        on_overflow=app[METRICS].slow_consumer_closed,
    )
    session = Session(
        app[HUB],
        settings.limits,
        outbox.send,
        relay=outbox.relay,
        guard=connection_guard(app[ACCESS], socket, remote=remote, header_token=token),
        when_sent=outbox.when_sent,
        changes=app.get(ENTITY_HINTS),
    )
    return outbox, session


async def flushed(outbox: Outbox) -> None:
    """Return once everything queued in ``outbox`` so far is written (or dropped)."""
    done = asyncio.get_running_loop().create_future()

    def release() -> None:
        if not done.done():
            done.set_result(None)

    outbox.when_sent(release)
    await done
