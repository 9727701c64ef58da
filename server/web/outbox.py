"""A connection's send queue: messages queued in one event-loop turn go out in one frame.

Messages arrive encoded (a broadcast is encoded once for all its subscribers); the outbox joins
them into a JSON array frame. Unsent bytes are bounded: a client that stops reading is cut off
with close code 4008 instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
_CLOSE_TIMEOUT = 1.0


class Outbox:
    """Coalescing, bounded send queue of one WebSocket."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        max_bytes: int,
        *,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        """``on_overflow`` is called when the outbox cuts off a slow consumer (for metrics)."""
        self._ws = ws
        self._transport = transport
        self._max_bytes = max_bytes
        self._on_overflow = on_overflow
        self._queue: list[bytes] = []
        self._waiters: list[Callable[[], None]] = []
        self._queued_bytes = 0
        self._flusher: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self.overflowed = False
        self.frames_sent = 0

    def send(self, message: bytes) -> None:
        """Queue one encoded message object; it goes out with the others of this loop turn."""
        if self.overflowed or self._ws.closed:
            return
        self._queue.append(message)
        self._queued_bytes += len(message)
        if self._queued_bytes + self._transport_backlog() > self._max_bytes:
            self._overflow()
        elif self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def when_sent(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the frame holding everything queued so far is written (or at
        once if nothing is queued); a dropped queue counts as done, so no callback is lost."""
        if not self._queue and self._flusher is None:
            callback()
        else:
            self._waiters.append(callback)

    async def close(self) -> None:
        """Stop sending; drop what is queued. After an overflow, wait until the socket is closed
        with 4008, so that the transport's own close (1000) cannot overtake it."""
        self._queue.clear()
        self._release_waiters()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._closer is not None:
            await self._closer

    async def _flush(self) -> None:
        try:
            while self._queue and not self._ws.closed:
                batch, self._queue = self._queue, []
                covered = len(self._waiters)  # who waits for what this frame holds
                self._queued_bytes = 0
                frame = b"[" + b",".join(batch) + b"]"
                await self._ws.send_frame(frame, WSMsgType.TEXT)
                self.frames_sent += 1
                self._release_waiters(covered)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("send failed: %s", exc)
            self._queue.clear()
        finally:
            self._flusher = None
            if not self._queue:  # all sent, dropped or closed: nobody may wait in vain
                self._release_waiters()

    def _transport_backlog(self) -> int:
        transport = self._transport
        if isinstance(transport, asyncio.WriteTransport):
            return transport.get_write_buffer_size()
        return 0

    def _release_waiters(self, count: int | None = None) -> None:
        """Call the oldest ``count`` waiters (all by default)."""
        if count is None:
            count = len(self._waiters)
        waiters = self._waiters[:count]
        del self._waiters[:count]
        for waiter in waiters:
            waiter()

    def _overflow(self) -> None:
        self.overflowed = True
        self._queue.clear()
        self._release_waiters()
        if self._on_overflow is not None:
            self._on_overflow()
        log.warning("closing a slow consumer: more than %d bytes unsent", self._max_bytes)
        self._closer = asyncio.get_running_loop().create_task(self._close_slow_consumer())

    async def _close_slow_consumer(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(
                self._ws.close(code=CLOSE_SLOW_CONSUMER, message=b"slow consumer"), _CLOSE_TIMEOUT
            )
        transport = self._transport
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.abort()
