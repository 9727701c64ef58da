"""A connection's send queue: messages queued in one event-loop turn go out in one frame.

Messages arrive encoded (a broadcast is encoded once for all its subscribers); the outbox joins
them into a JSON array frame. Unsent bytes are bounded: a client that stops reading is cut off
with close code 4008 instead of growing the server's memory.

The frame is written straight to the transport by a callback at the end of the loop turn, not
through aiohttp's ``send_frame`` coroutine: a broadcast to many sockets is then one plain call
and one ``write`` per socket, with no task per socket. Nothing here ever waits for the socket to
drain; the bound on unsent bytes (queue plus transport buffer) replaces that backpressure. And
the sockets that get the same messages in one turn (a fan-out) share one frame object.

Broadcasts (``relay``) to a busy connection may wait for the pacer's next tick
(``server.web.pacer``) to share a frame with the ones after them; direct messages (``send``) never
wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable
from typing import Protocol, cast

from server.web.open_socket import OpenSocket
from server.web.pacer import Pacer

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4008
_CLOSE_TIMEOUT = 1.0
_TEXT_FIN = 0x81  # RFC 6455 §5.2: FIN, no RSV bits (no compression), opcode 1 (text)


def frame_header(length: int) -> bytes:
    """The header of an unmasked final text frame with a payload of ``length`` bytes."""
    if length < 126:
        return bytes((_TEXT_FIN, length))
    if length < 1 << 16:
        return struct.pack("!BBH", _TEXT_FIN, 126, length)
    return struct.pack("!BBQ", _TEXT_FIN, 127, length)


class _SharedFrame:
    """The frame built last, kept while the same messages go to other sockets."""

    __slots__ = ("batch", "frame")

    def __init__(self) -> None:
        self.batch: list[bytes] = []
        self.frame = b""

    def of(self, batch: list[bytes]) -> bytes:
        """The whole frame (header and JSON array) carrying ``batch``."""
        if batch != self.batch:  # list equality tries identity first: cheap for a fan-out
            self.batch, self.frame = batch, framed(b"[" + b",".join(batch) + b"]")
        return self.frame


def framed(payload: bytes) -> bytes:
    return frame_header(len(payload)) + payload


_shared = _SharedFrame()


class _Transport(Protocol):
    """What the outbox uses of a transport. Checked by shape, not by class: uvloop's transports
    do not derive from ``asyncio.WriteTransport``."""

    def write(self, data: bytes) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def is_closing(self) -> bool: ...
    def abort(self) -> None: ...


class Outbox:
    """Coalescing, bounded send queue of one WebSocket."""

    __slots__ = (
        "_backlog",
        "_closer",
        "_max_bytes",
        "_on_overflow",
        "_paced",
        "_pacer",
        "_queue",
        "_queued_bytes",
        "_scheduled",
        "_transport",
        "_waiters",
        "_written_at",
        "_ws",
        "frames_sent",
        "overflowed",
    )

    def __init__(
        self,
        ws: OpenSocket,
        transport: asyncio.BaseTransport | None,
        max_bytes: int,
        *,
        pacer: Pacer | None = None,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        """``pacer`` paces relayed messages (none: every frame goes at the end of its turn);
        ``on_overflow`` is called when the outbox cuts off a slow consumer (for metrics)."""
        self._ws = ws
        self._transport = cast(_Transport | None, transport)
        self._max_bytes = max_bytes
        self._on_overflow = on_overflow
        self._queue: list[bytes] = []
        self._waiters: list[Callable[[], None]] = []
        self._queued_bytes = 0
        self._backlog = 0  # the transport's unsent bytes when this turn's queue began
        self._scheduled = False  # a flush at the end of this turn is due
        self._pacer = pacer if pacer is not None and pacer.interval > 0 else None
        self._paced = False  # a flush at the pacer's next tick is due
        self._written_at = -1e9  # loop time of the last frame written
        self._closer: asyncio.Task[None] | None = None
        self.overflowed = False
        self.frames_sent = 0

    def send(self, message: bytes) -> None:
        """Queue one encoded message object; it goes out at the end of this loop turn, with
        everything queued before it."""
        self._enqueue(message, paced=False)

    def relay(self, message: bytes) -> None:
        """Queue a broadcast message object; on a busy connection it may wait for the pacer's
        next tick, to go out with the ones after it."""
        self._enqueue(message, paced=True)

    def _enqueue(self, message: bytes, *, paced: bool) -> None:
        if self.overflowed or self._ws.closed:
            return
        if not self._queue:
            # Within one turn the transport's buffer cannot shrink: read it once per frame.
            self._backlog = self._transport_backlog()
        if not (self._scheduled or (paced and (self._paced or self._pace()))):
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        self._queue.append(message)
        self._queued_bytes += len(message)
        if self._queued_bytes + self._backlog > self._max_bytes:
            self._overflow()

    def when_sent(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the frame holding everything queued so far is written (or at
        once if nothing is queued); a dropped queue counts as done, so no callback is lost."""
        if not self._queue:
            callback()
        else:
            self._waiters.append(callback)

    def stop(self) -> None:
        """Stop sending; drop what is queued (releasing its ``when_sent`` callbacks)."""
        self._drop()

    async def close(self) -> None:
        """``stop``; after an overflow, also wait until the socket is closed with 4008, so that
        the transport's own close (1000) cannot overtake it."""
        self.stop()
        if self._closer is not None:
            await self._closer

    def _pace(self) -> bool:
        """Whether a relayed message can wait for the pacer (which is then due to flush), on a
        connection that has nothing waiting for it yet."""
        pacer = self._pacer
        if pacer is None:
            return False
        if asyncio.get_running_loop().time() - self._written_at >= pacer.interval:
            return False  # quiet until now: no waiting
        self._paced = True
        pacer.defer(self._flush_paced)
        return True

    def _flush(self) -> None:
        self._scheduled = False
        self._write()

    def _flush_paced(self) -> None:
        self._paced = False
        if not self._scheduled:  # else the end of this turn writes it
            self._write()

    def _write(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing() or self._ws.closed:
            self._drop()
            return
        if not self._queue:
            return
        batch, self._queue = self._queue, []
        self._queued_bytes = 0
        transport.write(_shared.of(batch))
        self._written_at = asyncio.get_running_loop().time()
        self.frames_sent += 1
        self._release_waiters()

    def _transport_backlog(self) -> int:
        transport = self._transport
        return 0 if transport is None else transport.get_write_buffer_size()

    def _drop(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0
        self._release_waiters()

    def _release_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter()

    def _overflow(self) -> None:
        self.overflowed = True
        self._drop()
        if self._on_overflow is not None:
            self._on_overflow()
        log.warning("closing a slow consumer: more than %d bytes unsent", self._max_bytes)
        self._closer = asyncio.get_running_loop().create_task(self._close_slow_consumer())

    async def _close_slow_consumer(self) -> None:
        closed = False
        with contextlib.suppress(TimeoutError, ConnectionError):
            closed = await asyncio.wait_for(
                self._ws.close(code=CLOSE_SLOW_CONSUMER, message=b"slow consumer"), _CLOSE_TIMEOUT
            )
        if not closed and self._transport is not None:
            # The close frame is stuck behind the unread bytes, and a graceful transport close
            # would wait for them forever: drop the connection.
            self._transport.abort()
