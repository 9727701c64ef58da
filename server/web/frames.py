"""RFC 6455 frames of a server endpoint, sans I/O: client bytes in, whole messages and control
events out, and the few frames the server writes itself (close, ping, pong).

Nothing here touches a socket or an event loop (python-websockets' ``protocol.py`` is the model):
``FrameReader.feed`` takes whatever bytes arrived and returns the events they complete, so the
codec is tested by feeding bytes split anywhere. No extension is ever negotiated (no
compression), so every RSV bit must be zero.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_PROTOCOL_ERROR: Final = 1002
CLOSE_INVALID_TEXT: Final = 1007
CLOSE_MESSAGE_TOO_BIG: Final = 1009

_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_KNOWN_OPCODES = frozenset((_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG))
_MAX_CONTROL_PAYLOAD = 125  # RFC 6455 §5.5
_MASK_BYTES = 4
# Close codes a peer may send (RFC 6455 §7.4.1 plus IANA's 1012-1014; 3000-4999 for
# libraries and applications). 1005, 1006 and 1015 must never appear on the wire.
_SENDABLE_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015)))

PING_FRAME: Final = b"\x89\x00"  # FIN + ping, empty payload (server frames are never masked)


@dataclass(frozen=True, slots=True)
class Message:
    """A complete data message: ``str`` for text (valid UTF-8 checked), ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A ping; the reply is a pong with the same payload (``pong_frame``)."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """A pong (an answer to the heartbeat's ping, or unsolicited: both prove liveness)."""


@dataclass(frozen=True, slots=True)
class Close:
    """The peer's close frame; ``code`` is None when it carried no status code."""

    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Fault:
    """A violation that ends the connection: close with ``code`` and ``reason``. The reader
    returns nothing more after a fault, since the stream can no longer be framed reliably."""

    code: int
    reason: str


Event = Message | Ping | Pong | Close | Fault


def _payload_length(buffer: bytes, start: int) -> tuple[int, int] | None:
    """The payload length of the frame at ``start`` and where its mask begins (relative to
    ``start``); None while the header is incomplete."""
    available = len(buffer) - start
    if available < 2:
        return None
    length = buffer[start + 1] & 0x7F
    if length == 126:
        return None if available < 4 else (struct.unpack_from("!H", buffer, start + 2)[0], 4)
    if length == 127:
        return None if available < 10 else (struct.unpack_from("!Q", buffer, start + 2)[0], 10)
    return length, 2


def _frame_size(data: bytes) -> int:
    """The size of the client frame that starts ``data`` as far as its header tells; while
    the header itself is incomplete, one byte more than ``data`` (any read may finish it)."""
    header = _payload_length(data, 0)
    if header is None:
        return len(data) + 1
    length, offset = header
    return offset + _MASK_BYTES + length


class FrameReader:
    """Reassembles client frames into events. One per connection; idle, it holds no buffer."""

    __slots__ = (
        "_buffer",
        "_failed",
        "_fragment_opcode",
        "_fragments",
        "_fragments_size",
        "_needed",
        "max_size",
    )

    def __init__(self, max_size: int) -> None:
        """``max_size``: the most payload bytes a message (all its fragments) may carry; more
        is refused with 1009 as soon as the frame header says so, before buffering it."""
        self.max_size = max_size
        self._buffer: list[bytes] = []  # the pieces of an incomplete frame, joined once whole
        self._needed = 0  # bytes that frame needs before it can be read
        self._fragments: bytearray | None = None  # one buffer: a fragment costs only its bytes
        self._fragment_opcode = _TEXT
        self._fragments_size = 0
        self._failed = False

    def feed(self, data: bytes) -> list[Event]:
        """The events completed by ``data``, in order; a ``Fault``, if any, comes last."""
        if self._failed:
            return []
        if self._buffer:
            self._buffer.append(data)
            self._needed -= len(data)
            if self._needed > 0:
                return []  # a large frame arriving in small reads is joined once, not per read
            buffer, self._buffer = b"".join(self._buffer), []
        else:
            if self._fragments is None:
                whole = self._whole_frame(data)
                if whole is not None:
                    return [whole]
            buffer = data
        events: list[Event] = []
        position = 0
        while True:
            parsed = self._frame_at(buffer, position)
            if parsed is None:
                break
            event, position = parsed
            if event is not None:
                events.append(event)
                if isinstance(event, Fault):
                    self._failed = True
                    return events
        if position < len(buffer):
            rest = buffer[position:]
            self._buffer, self._needed = [rest], _frame_size(rest) - len(rest)
        return events

    def _whole_frame(self, data: bytes) -> Message | None:
        """The common case in one step: ``data`` is exactly one final, masked, valid data frame
        of under 64 KiB (a client's message usually arrives so). None for anything else, which
        the general path then reads, refusals included."""
        first, size = data[0] if data else 0, len(data)
        if first not in (0x80 | _TEXT, 0x80 | _BINARY) or size < 6:
            return None
        length, offset = data[1] - 0x80, 2  # negative when the mask bit is clear
        if length == 126:
            length, offset = int.from_bytes(data[2:4], "big"), 4
        elif not 0 <= length < 126:  # unmasked, or a 64-bit length
            return None
        if size != offset + _MASK_BYTES + length or length > self.max_size:
            return None
        payload = unmask(data[offset + _MASK_BYTES :], data[offset : offset + _MASK_BYTES])
        if first & 0x0F == _BINARY:
            return Message(payload)
        try:
            return Message(payload.decode("utf-8"))
        except UnicodeDecodeError:
            return None

    def _frame_at(self, buffer: bytes, start: int) -> tuple[Event | None, int] | None:
        """The event of the frame at ``start`` (None for a non-final fragment) and where the
        next frame begins; None while the frame is incomplete."""
        if len(buffer) - start < 2:
            return None
        first, second = buffer[start], buffer[start + 1]
        fault = self._header_fault(first, second)
        if fault is not None:
            return fault, start
        header = _payload_length(buffer, start)
        if header is None:
            return None
        (length, offset), opcode = header, first & 0x0F
        if opcode < _CLOSE and self._fragments_size + length > self.max_size:
            return Fault(CLOSE_MESSAGE_TOO_BIG, f"message over {self.max_size} bytes"), start
        end = start + offset + _MASK_BYTES + length
        if len(buffer) < end:
            return None
        mask_at = start + offset
        payload = unmask(
            buffer[mask_at + _MASK_BYTES : end], buffer[mask_at : mask_at + _MASK_BYTES]
        )
        return self._event(first & 0x80 != 0, opcode, payload), end

    def _header_fault(self, first: int, second: int) -> Fault | None:
        opcode, final, length = first & 0x0F, first & 0x80, second & 0x7F
        if first & 0x70:
            return Fault(CLOSE_PROTOCOL_ERROR, "RSV bits set, but no extension was negotiated")
        if opcode not in _KNOWN_OPCODES:
            return Fault(CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode:#x}")
        if not second & 0x80:
            return Fault(CLOSE_PROTOCOL_ERROR, "client frames must be masked (RFC 6455 §5.1)")
        if opcode >= _CLOSE and (not final or length > _MAX_CONTROL_PAYLOAD):
            return Fault(CLOSE_PROTOCOL_ERROR, "control frames must be final and short")
        return None

    def _event(self, final: bool, opcode: int, payload: bytes) -> Event | None:
        if opcode >= _CLOSE:
            return _control_event(opcode, payload)
        if opcode == _CONTINUATION:
            if self._fragments is None:
                return Fault(CLOSE_PROTOCOL_ERROR, "a continuation frame with nothing to continue")
            self._fragments += payload
            self._fragments_size += len(payload)
            if not final:
                return None
            opcode, payload = self._fragment_opcode, bytes(self._fragments)
            self._fragments, self._fragments_size = None, 0
        elif self._fragments is not None:
            return Fault(CLOSE_PROTOCOL_ERROR, "a new message began inside a fragmented one")
        elif not final:
            self._fragments, self._fragment_opcode = bytearray(payload), opcode
            self._fragments_size = len(payload)
            return None
        return _data_event(opcode, payload)


def _data_event(opcode: int, payload: bytes) -> Message | Fault:
    if opcode == _BINARY:
        return Message(payload)
    try:
        return Message(payload.decode("utf-8"))
    except UnicodeDecodeError:
        return Fault(CLOSE_INVALID_TEXT, "a text message that is not valid UTF-8")


def _control_event(opcode: int, payload: bytes) -> Event:
    if opcode == _PING:
        return Ping(payload)
    if opcode == _PONG:
        return Pong()
    if not payload:
        return Close(None, "")
    if len(payload) == 1:
        return Fault(CLOSE_PROTOCOL_ERROR, "a close frame with a one-byte payload")
    (code,) = struct.unpack_from("!H", payload)
    if code not in _SENDABLE_CLOSE_CODES and not 3000 <= code < 5000:
        return Fault(CLOSE_PROTOCOL_ERROR, f"close code {code} may not be sent")
    try:
        return Close(code, payload[2:].decode("utf-8"))
    except UnicodeDecodeError:
        return Fault(CLOSE_INVALID_TEXT, "a close reason that is not valid UTF-8")


def unmask(payload: bytes, mask: bytes) -> bytes:
    """``payload`` XOR the repeated 4-byte ``mask`` (RFC 6455 §5.3), as one big-integer XOR:
    linear in C, without a Python-level loop over bytes."""
    size = len(payload)
    if not size:
        return b""
    key = (mask * (size // _MASK_BYTES + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
        size, "little"
    )


def close_frame(code: int, reason: str = "") -> bytes:
    """An unmasked close frame with ``code`` and ``reason`` (cut to fit a control frame)."""
    payload = struct.pack("!H", code) + reason.encode()[: _MAX_CONTROL_PAYLOAD - 2]
    return bytes((0x80 | _CLOSE, len(payload))) + payload


def pong_frame(payload: bytes) -> bytes:
    """The unmasked pong that answers a ping with ``payload``."""
    return bytes((0x80 | _PONG, len(payload))) + payload
