"""The lean WebSocket: one slotted asyncio protocol per connection, with no aiohttp object, no
task and no timer while the connection is idle.

Bytes go through the frame codec (``server.web.frames``); each message goes to the connection's
``Session``. ``Session.receive_frame`` is a coroutine and a connection's messages must be
handled one after another, so a connection gets a task only while it has messages to handle:
made for the first, it handles what arrives meanwhile and ends when none is left. The peer's
close and a codec fault wait their turn behind the messages before them, as on aiohttp's path.
A connection stays in ``SESSIONS`` until its last message is handled, and closing it (as the
shutdown does) waits for that message, cancelling it after ``shutdown_timeout`` as aiohttp
cancels its handlers: no task outlives the shutdown. The outbox writes replies to the
transport; one ``Heartbeat`` pings every idle connection.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import cast

from aiohttp import web

from server.hub.session import Session
from server.observability.connection import ConnectionRecord
from server.observability.logs import REQUEST_ID
from server.web.frames import (
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NORMAL,
    PING_FRAME,
    Close,
    Fault,
    FrameReader,
    Message,
    Ping,
    close_frame,
    pong_frame,
)
from server.web.heartbeat import Beat, Heartbeat, beat
from server.web.keys import HEARTBEAT, SESSIONS, SETTINGS
from server.web.open_socket import OpenSocket
from server.web.outbox import Outbox
from server.web.session_setup import flushed, open_session

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 10.0  # seconds to wait for the peer's close frame (aiohttp's default)
CLOSE_INTERNAL_ERROR = 1011
PAUSE_READING_BYTES = 1 << 16  # unhandled message bytes that stop reading (aiohttp's limit)
# Unsent bytes beyond which pings go unanswered: a peer that pings but does not read would
# otherwise grow the server's write buffer without limit (pongs bypass the outbox's bound).
MAX_PONG_BACKLOG = 1 << 16

Item = str | bytes | Close | Fault  # a message, or the end of the stream, in arrival order
_MESSAGE_TYPES = (str, bytes)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What all lean WebSockets of one application share: one object for every connection."""

    app: web.Application
    sessions: set[OpenSocket]
    heartbeat: Heartbeat
    max_frame_bytes: int
    handler_grace: float  # seconds a closed connection's last message may still take

    @classmethod
    def of(cls, app: web.Application) -> Endpoint:
        """The endpoint of a started application (its heartbeat runs)."""
        settings = app[SETTINGS]
        max_frame_bytes = settings.limits.max_frame_bytes
        return cls(app, app[SESSIONS], app[HEARTBEAT], max_frame_bytes, settings.shutdown_timeout)


class WebSocketConnection(asyncio.Protocol):
    """One upgraded connection; implements ``OpenSocket`` and the heartbeat's ``Member``."""

    __slots__ = (
        "_close_sent",
        "_close_timer",
        "_closed_waiter",
        "_endpoint",
        "_lost",
        "_outbox",
        "_pending",
        "_pending_bytes",
        "_reader",
        "_reading_paused",
        "_record",
        "_session",
        "_silent_ticks",
        "_token",
        "_transport",
        "_worker",
    )

    def __init__(self, endpoint: Endpoint, record: ConnectionRecord, token: str | None) -> None:
        """``record``: the upgrade's access line, written when the connection is lost;
        ``token``: the bearer token of the upgrade request, if any."""
        self._endpoint = endpoint
        self._record = record
        self._token = token
        self._reader = FrameReader(endpoint.max_frame_bytes)
        self._transport: asyncio.Transport | None = None
        self._session: Session | None = None
        self._outbox: Outbox | None = None
        self._pending: list[Item] | None = None  # only while a worker runs
        self._pending_bytes = 0
        self._worker: asyncio.Task[None] | None = None
        self._silent_ticks = 0
        self._reading_paused = False
        self._close_sent = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._closed_waiter: asyncio.Future[None] | None = None
        self._lost = False

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Set up the session; if that fails, close with 1011 (the ``101`` is already sent)."""
        self._transport = cast(asyncio.Transport, transport)
        token, self._token = self._token, None  # the guard keeps it
        try:
            self._outbox, self._session = open_session(
                self._endpoint.app, self, transport, remote=self._record.remote, token=token
            )
        except Exception:
            self._log(logging.ERROR, "closing a connection whose session failed to open", True)
            self._end(Fault(CLOSE_INTERNAL_ERROR, "internal error"))
            return
        self._endpoint.sessions.add(self)
        self._endpoint.heartbeat.watch(self)

    def data_received(self, data: bytes) -> None:
        self._silent_ticks = 0
        for event in self._reader.feed(data):
            if isinstance(event, Message):
                if not self._close_sent:
                    self._take(event.data)
            elif isinstance(event, Ping):
                if not self.closed and self._write_backlog() <= MAX_PONG_BACKLOG:
                    self._write(pong_frame(event.payload))
            elif isinstance(event, Close | Fault):
                self._take(event)
            # a Pong needs nothing: it was heard, which the heartbeat counts

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._endpoint.heartbeat.forget(self)
        if self._closed_waiter is not None and not self._closed_waiter.done():
            self._closed_waiter.set_result(None)
        if self._worker is None:
            self._finish()
        elif self._pending is not None:
            self._pending.clear()  # the worker ends after the message under way, then finishes

    # -- OpenSocket -----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._close_sent or self._lost

    async def close(self, *, code: int = CLOSE_NORMAL, message: bytes = b"") -> bool:
        """Send a close frame after what the outbox has queued; return once the peer answered
        with its own and the connection is gone (or ``CLOSE_TIMEOUT`` passed) and its last
        message is handled (``_handled``). False if the connection was already closing."""
        sent = False
        if not self.closed:
            if self._outbox is not None:
                await flushed(self._outbox)
            sent = self._send_close(code, message.decode(errors="replace"))
        if not self._lost:
            if self._closed_waiter is None:
                self._closed_waiter = asyncio.get_running_loop().create_future()
            await asyncio.wait([self._closed_waiter])  # a cancelled caller leaves it to others
        await self._handled()
        return sent

    # -- heartbeat ------------------------------------------------------------------------------

    def heartbeat_tick(self) -> None:
        if self._reading_paused:  # the silence is ours: the peer's pongs wait unread
            self._silent_ticks = 0
            return
        self._silent_ticks += 1
        action = beat(self._silent_ticks)
        if action is Beat.PING and not self.closed:
            self._write(PING_FRAME)
        elif action is Beat.GIVE_UP and self._transport is not None:
            self._transport.abort()  # no pong: the peer is gone, and so may be its reading

    # -- internals ------------------------------------------------------------------------------

    def _write_backlog(self) -> int:
        transport = self._transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def _take(self, item: Item) -> None:
        """Handle ``item`` once everything before it is handled."""
        if self._pending is not None:
            self._pending.append(item)
            if isinstance(item, _MESSAGE_TYPES):
                self._pending_bytes += len(item)
                if self._pending_bytes > PAUSE_READING_BYTES and not self._reading_paused:
                    self._reading_paused = True
                    if self._transport is not None:
                        self._transport.pause_reading()
        elif isinstance(item, _MESSAGE_TYPES):
            self._pending, self._pending_bytes = [item], len(item)  # _work counts it out
            self._worker = asyncio.get_running_loop().create_task(self._work())
        else:
            self._end(item)

    async def _work(self) -> None:
        REQUEST_ID.set(self._record.request_id)  # this task's own context: its logs carry it
        pending = self._pending
        try:
            while pending:
                item = pending.pop(0)
                if not isinstance(item, _MESSAGE_TYPES):
                    self._end(item)
                    break
                self._pending_bytes -= len(item)
                if not self._close_sent:
                    await self._handle(item)
                if self._reading_paused and self._pending_bytes <= PAUSE_READING_BYTES // 2:
                    self._reading_paused = False
                    if self._transport is not None and not self._lost:
                        self._transport.resume_reading()
        finally:  # cancelled too (``_handled``)
            self._pending, self._pending_bytes, self._worker = None, 0, None
            if self._lost:
                self._finish()

    async def _handled(self) -> None:
        """Return once no message is being handled. The one under way gets ``handler_grace``
        seconds, then is cancelled. Called from the worker itself (a handler closing its own
        connection), it returns at once."""
        worker = self._worker
        if worker is None or worker is asyncio.current_task():
            return
        _, running = await asyncio.wait([worker], timeout=self._endpoint.handler_grace)
        if running:
            self._log(logging.WARNING, "cancelled a closed connection's message still handled")
            worker.cancel()
            await asyncio.wait(running)

    async def _handle(self, message: str | bytes) -> None:
        session = self._session
        assert session is not None and self._outbox is not None
        try:
            await session.receive_frame(message)
        except Exception:
            log.exception("closing a connection after an unexpected error")
            self._send_close(CLOSE_INTERNAL_ERROR, "internal error")
            return
        if session.close_code is not None and not self._close_sent:
            await flushed(self._outbox)  # the error that explains the close goes out first
            self._send_close(session.close_code, session.close_reason)

    def _end(self, item: Close | Fault) -> None:
        """The stream ended: the peer closed, or broke the protocol."""
        if isinstance(item, Fault):
            if item.code == CLOSE_MESSAGE_TOO_BIG:
                self._log(logging.INFO, "closed a connection whose frame exceeded the size limit")
            self._send_close(item.code, item.reason)
        elif not self._close_sent:  # the peer began the close: answer it (RFC 6455 §5.5.1)
            self._send_close(item.code if item.code is not None else CLOSE_NORMAL, "")
        if self._transport is not None:
            self._transport.close()  # the server closes the TCP connection first (§7.1.1)

    def _send_close(self, code: int, reason: str) -> bool:
        if self.closed or self._transport is None:
            return False
        self._close_sent = True
        self._transport.write(close_frame(code, reason))
        loop = asyncio.get_running_loop()
        self._close_timer = loop.call_later(CLOSE_TIMEOUT, self._transport.abort)
        return True

    def _write(self, frame: bytes) -> None:
        if self._transport is not None:
            self._transport.write(frame)

    def _finish(self) -> None:
        """The connection is gone and its last message handled: leave ``SESSIONS`` and the
        session, stop the outbox, write the access line. The last two happen whatever the
        session's clean-up raises, which is logged."""
        self._endpoint.sessions.discard(self)
        session, self._session = self._session, None
        try:
            if session is not None:
                session.disconnect()
        except Exception:
            self._log(logging.ERROR, "a closed connection's session failed to clean up", True)
        finally:
            if self._outbox is not None:
                self._outbox.stop()
            self._record.finish()

    def _log(self, level: int, message: str, exc_info: bool = False) -> None:
        """Log with this connection's request id: transport callbacks run outside the worker
        task that binds it."""
        token = REQUEST_ID.set(self._record.request_id)
        log.log(level, message, exc_info=exc_info)
        REQUEST_ID.reset(token)
