"""The first protocol of every connection: reads the first request head and either opens a lean
WebSocket (``server.web.websocket``) or hands the connection to aiohttp.

Only a well-formed ``GET /v1/ws`` upgrade the handshake accepts takes the lean path. Everything
else (REST, static files, a refused or odd upgrade, a malformed request) goes, with the bytes
read so far, to the protocol of aiohttp's ``web.Server``, which then owns the connection as if
it had accepted it: its routes, keep-alive, errors, logs and metrics all apply unchanged.

A connection whose first head is not complete within ``request_head_timeout`` seconds of its
accept gets ``408 Request Timeout`` and is closed (RFC 9110 §15.5.9): a deadline for the whole
head, not for each read, so a client trickling bytes (slowloris) cannot hold a socket open.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.auth.web import bearer_token_of
from server.observability import METRICS
from server.observability.connection import ConnectionRecord
from server.observability.logs import request_id_from
from server.web.handshake import (
    MAX_HEAD_BYTES,
    RequestHead,
    has_body,
    head_refusal,
    parse_head,
    switching_protocols,
    wants_websocket,
)
from server.web.websocket import Endpoint, WebSocketConnection
from server.web.ws import WS_PATH

_END_OF_HEAD = b"\r\n\r\n"
_TIMED_OUT = b"408: Request Timeout"
_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\n"
    b"Connection: close\r\n"
    b"\r\n%s" % (len(_TIMED_OUT), _TIMED_OUT)
)


class FrontDoor(asyncio.Protocol):
    """Reads one request head, then hands the connection on; made for each accepted socket."""

    __slots__ = (
        "_buffer",
        "_deadline",
        "_endpoint",
        "_head_timeout",
        "_transport",
        "_waiting",
        "_web_server",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        web_server: web.Server,
        waiting: set[FrontDoor],
        head_timeout: float,
    ) -> None:
        """``waiting``: the doors still reading a head, which the site closes when it stops
        (neither aiohttp's server nor the lean path knows these connections yet);
        ``head_timeout``: seconds the head may take (0 or less: no limit)."""
        self._endpoint = endpoint
        self._web_server = web_server
        self._waiting = waiting
        self._head_timeout = head_timeout
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._waiting.add(self)
        if self._head_timeout > 0:
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(self._head_timeout, self._time_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._leave()

    def close(self) -> None:
        """Close the connection before its head is complete (the server is shutting down)."""
        self._leave()
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer + data if self._buffer else data
        end = buffer.find(_END_OF_HEAD)
        if end < 0:
            if len(buffer) > MAX_HEAD_BYTES or b"\n\n" in buffer:
                self._hand_over(buffer)  # too long, or bare line feeds: aiohttp answers
            else:
                self._buffer = buffer
            return
        head = parse_head(buffer[:end])
        if head is None or not _lean(head):
            self._hand_over(buffer)
        else:
            self._upgrade(head, buffer[end + len(_END_OF_HEAD) :])

    def _leave(self) -> None:
        """The head is complete, or the connection ends: the door no longer waits for it."""
        self._waiting.discard(self)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _time_out(self) -> None:
        self._leave()
        if self._transport is not None:
            self._transport.write(_REQUEST_TIMEOUT)
            self._transport.close()

    def _hand_over(self, buffer: bytes) -> None:
        self._leave()
        transport = self._transport
        assert transport is not None
        protocol = self._web_server()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(buffer)

    def _upgrade(self, head: RequestHead, rest: bytes) -> None:
        self._leave()
        transport = self._transport
        assert transport is not None
        headers = head.headers
        record = ConnectionRecord(
            self._endpoint.app[METRICS],
            method=head.method,
            route=WS_PATH,
            remote=_remote(transport),
            request_id=request_id_from(headers.get("x-request-id", "")),
        )
        record.status = 101
        transport.write(switching_protocols(headers["sec-websocket-key"], record.request_id))
        connection = WebSocketConnection(
            self._endpoint, record, bearer_token_of(headers.get("authorization", ""))
        )
        transport.set_protocol(connection)
        connection.connection_made(transport)
        if rest:
            connection.data_received(rest)


def _lean(head: RequestHead) -> bool:
    """Whether the lean path serves this request: a valid upgrade of the WebSocket endpoint."""
    return (
        head.method == "GET"
        and head.path == WS_PATH
        and wants_websocket(head)
        and not has_body(head)
        and head_refusal(head) is None
    )


def _remote(transport: asyncio.BaseTransport) -> str | None:
    """The peer's address as aiohttp's ``request.remote`` gives it."""
    peer = transport.get_extra_info("peername")
    if isinstance(peer, list | tuple):
        return str(peer[0])
    return str(peer) if peer else None
