"""The WebSocket opening handshake (RFC 6455 §4.2), sans I/O: read a request head, decide
whether it is an upgrade the server accepts, and build the ``101 Switching Protocols`` reply.

The front door (``server.web.front_door``) and the aiohttp fallback route (``server.web.ws``)
both refuse with ``refusal``, so a bad handshake gets the same answer on either path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Final

MAX_HEAD_BYTES: Final = 8190  # aiohttp's own limit on a request line or header field
_ACCEPT_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
SUPPORTED_VERSION: Final = "13"


@dataclass(frozen=True, slots=True)
class RequestHead:
    """The request line and headers of one HTTP/1.1 request; header names in lower case
    (a repeated header keeps its last value; the front door hands those requests on)."""

    method: str
    target: str
    version: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an upgrade request is refused, as an HTTP status, a text and extra headers."""

    status: int
    text: str
    headers: tuple[tuple[str, str], ...] = ()


def parse_head(head: bytes) -> RequestHead | None:
    """The request of ``head`` (bytes before the blank line), or None when it is not a plain,
    well-formed HTTP/1.1 request head (aiohttp's parser then answers it)."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return None
    request_line, *lines = text.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[2] != "HTTP/1.1":
        return None
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or name.lower() in headers:
            return None
        headers[name.lower()] = value.strip(" \t")
    return RequestHead(parts[0], parts[1], parts[2], headers)


def wants_websocket(head: RequestHead) -> bool:
    """Whether the request asks to upgrade to a WebSocket (``Upgrade: websocket``)."""
    return head.headers.get("upgrade", "").strip().lower() == "websocket"


def has_body(head: RequestHead) -> bool:
    return "transfer-encoding" in head.headers or head.headers.get("content-length", "0") != "0"


def refusal(upgrade: str, connection: str, version: str, key: str) -> Refusal | None:
    """Why a ``GET`` of the WebSocket endpoint with these header values is refused, or None.

    A wrong version gets ``426 Upgrade Required`` naming the one spoken (RFC 6455 §4.4); a
    request that is no upgrade, or has no valid key, gets ``400 Bad Request``.
    """
    if upgrade.strip().lower() != "websocket":
        return Refusal(400, 'the WebSocket endpoint needs "Upgrade: websocket"')
    if "upgrade" not in (token.strip().lower() for token in connection.split(",")):
        return Refusal(400, 'the WebSocket endpoint needs "Connection: Upgrade"')
    if version.strip() != SUPPORTED_VERSION:
        return Refusal(
            426,
            f"unsupported Sec-WebSocket-Version {version.strip()!r}; this server speaks 13",
            (("Sec-WebSocket-Version", SUPPORTED_VERSION),),
        )
    if not _valid_key(key):
        return Refusal(400, "Sec-WebSocket-Key must be 16 random bytes in base64")
    return None


def head_refusal(head: RequestHead) -> Refusal | None:
    """``refusal`` for a parsed request head."""
    headers = head.headers
    return refusal(
        headers.get("upgrade", ""),
        headers.get("connection", ""),
        headers.get("sec-websocket-version", ""),
        headers.get("sec-websocket-key", ""),
    )


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key.strip(), validate=True)) == 16
    except binascii.Error:
        return False


def accept_value(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1(key.strip().encode() + _ACCEPT_GUID).digest()
    return base64.b64encode(digest).decode()


def switching_protocols(key: str, request_id: str) -> bytes:
    """The ``101`` response that completes the handshake, echoing the request id."""
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_value(key)}\r\n"
        f"X-Request-Id: {request_id}\r\n"
        "\r\n"
    ).encode()
