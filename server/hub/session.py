"""One connection's protocol logic: takes decoded client messages, queues encoded replies.

No sockets: the WebSocket transport feeds frames in and sends what ``send`` queued, so the whole
protocol can be driven and tested without a network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Protocol

import orjson

from server.auth.guard import Guard, OpenGuard
from server.config import Limits
from server.hub.document import Document
from server.hub.hub import Ack, Hub
from server.hub.subscriber import Subscriber
from server.protocol.errors import ErrorCode, ProtocolError
from server.protocol.fields import (
    MAX_CLIENT_ID,
    PROTOCOL_VERSION,
    decode_frame,
    read_cursor,
    read_doc_id,
    read_id,
    read_int,
    read_op,
    read_optional_int,
)

log = logging.getLogger(__name__)

CLOSE_UNSUPPORTED_PROTOCOL = 4000
CLOSE_UNAUTHORIZED = 4001
MAX_PRESENCE_INFO_BYTES = 1024


class ChangeHints(Protocol):
    """Push-invalidate of synced records (``server.entities.push``, docs/entities.md)."""

    async def subscribe(self, subscriber: Subscriber, message: dict[str, Any]) -> dict[str, Any]:
        """Handle ``subscribe_changes``; returns the reply message."""

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop the subscriber's hints."""


class Session:
    """The protocol state of one connection; it is the hub's ``Subscriber`` for its documents."""

    __slots__ = (
        "_changes",
        "_docs",
        "_guard",
        "_hub",
        "_limits",
        "_relay",
        "_send",
        "_when_sent",
        "client_id",
        "close_code",
        "close_reason",
        "user",
    )

    def __init__(
        self,
        hub: Hub,
        limits: Limits,
        send: Callable[[bytes], None],
        *,
        relay: Callable[[bytes], None] | None = None,
        guard: Guard | None = None,
        when_sent: Callable[[Callable[[], None]], None] | None = None,
        changes: ChangeHints | None = None,
    ) -> None:
        self.client_id = ""
        self.user: str | None = None
        self.close_code: int | None = None  # set when the transport must close the connection
        self.close_reason = ""
        self._hub = hub
        self._limits = limits
        self._send = send
        self._relay = relay if relay is not None else send
        # Access control: authentication, roles, abuse limits, audit (server/auth).
        self._guard: Guard = guard if guard is not None else OpenGuard()
        self._guard.attach(self._send_error, self._revoke)
        self._when_sent = when_sent
        self._changes = changes
        self._docs: dict[str, Document] = {}

    def deliver(self, message: bytes) -> None:
        """Queue an encoded message (the hub calls this for acks, ops and presence)."""
        self._send(message)

    def relay(self, message: bytes) -> None:
        """Queue an encoded broadcast (the hub calls this for others' ops and cursors)."""
        self._relay(message)

    def when_sent(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the transport has written what was queued so far (at once
        if the transport gave no way to know)."""
        if self._when_sent is None:
            callback()
        else:
            self._when_sent(callback)

    async def receive_frame(self, data: str | bytes) -> None:
        """Handle one frame from the client: a message or an array of messages, in order."""
        try:
            messages = decode_frame(data)
        except ProtocolError as exc:
            self._send_error(exc)
            return
        for message in messages:
            await self.receive(message)
            if self.close_code is not None:
                return

    async def receive(self, message: dict[str, Any]) -> None:
        """Handle one decoded message; every failure becomes an ``error`` message."""
        try:
            self._guard.admit(message)
            kind = message.get("type")
            handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise ProtocolError(
                    ErrorCode.UNKNOWN_TYPE,
                    f"unknown message type {kind!r}; expected one of {sorted(_HANDLERS)}",
                )
            if not self.client_id and kind != "hello":
                raise ProtocolError(
                    ErrorCode.HANDSHAKE_REQUIRED, "send a hello message before anything else"
                )
            await handler(self, message)
        except ProtocolError as exc:
            self._send_error(exc)
        except Exception:
            log.exception("message handler failed")
            self._send_error(ProtocolError(ErrorCode.INTERNAL_ERROR, "internal server error"))

    def disconnect(self) -> None:
        """The connection is gone: leave every document (others see the presence cleared)."""
        for doc_id in list(self._docs):
            self._hub.close(doc_id, self)
        self._docs.clear()
        self._guard.disconnect()
        if self._changes is not None:
            self._changes.unsubscribe(self)

    # -- handlers -----------------------------------------------------------------------------

    async def _hello(self, message: dict[str, Any]) -> None:
        if self.client_id:
            raise ProtocolError(ErrorCode.ALREADY_HANDSHAKEN, "hello was already received")
        protocol = message.get("protocol")
        if type(protocol) is not int or protocol != PROTOCOL_VERSION:  # true == 1 in Python
            self.close_code, self.close_reason = CLOSE_UNSUPPORTED_PROTOCOL, "unsupported protocol"
            raise ProtocolError(
                ErrorCode.UNSUPPORTED_PROTOCOL,
                f"protocol {protocol!r} is not supported; this server speaks {PROTOCOL_VERSION}",
            )
        client_id = read_id(message, "client", max_length=MAX_CLIENT_ID)
        try:
            self.user = await self._guard.authenticate(message.get("token"))
        except ProtocolError:
            self.close_code, self.close_reason = CLOSE_UNAUTHORIZED, "unauthorized"
            raise
        self.client_id = client_id
        self._send_message(
            {
                "type": "welcome",
                "protocol": PROTOCOL_VERSION,
                "client": client_id,
                "user": self.user,
                "limits": self._limits.to_message(),
                **self._guard.token_info(),
            }
        )

    async def _auth(self, message: dict[str, Any]) -> None:
        await self._guard.reauthenticate(message.get("token"))
        self._send_message({"type": "authed", "user": self.user, **self._guard.token_info()})

    async def _open(self, message: dict[str, Any]) -> None:
        doc_id = read_doc_id(message)
        known = read_optional_int(message, "version", doc=doc_id)
        if doc_id not in self._docs and len(self._docs) >= self._limits.max_open_docs:
            raise ProtocolError(
                ErrorCode.TOO_MANY_DOCS,
                f"this connection already has {len(self._docs)} documents open; close some first",
                doc=doc_id,
            )
        if doc_id in self._docs:  # a reopen: if it fails below, the document stays closed
            self._hub.close(doc_id, self)
            del self._docs[doc_id]
            self._guard.closed(doc_id)
        await self._guard.authorize_open(doc_id)
        reply = await self._hub.open(doc_id, self, known)
        self._docs[doc_id] = await self._hub.document(doc_id, create=True)
        self._guard.opened(doc_id, reply["version"])
        self._send_message(reply)

    async def _close(self, message: dict[str, Any]) -> None:
        doc_id = read_doc_id(message)
        self._opened(doc_id)
        self._hub.close(doc_id, self)
        del self._docs[doc_id]
        self._guard.closed(doc_id)
        self._send_message({"type": "closed", "doc": doc_id})

    async def _submit(self, message: dict[str, Any]) -> None:
        doc_id = read_doc_id(message)
        seq = read_int(message, "seq", minimum=1, doc=doc_id)
        base = read_int(message, "version", doc=doc_id, seq=seq)
        op = read_op(message, max_op_chars=self._limits.max_op_chars, doc=doc_id, seq=seq)
        doc = self._opened(doc_id, seq=seq)
        await self._guard.authorize_submit(doc_id, self.client_id, seq)
        future = self._hub.submit(
            doc,
            origin=self,
            client_id=self.client_id,
            user=self.user,
            seq=seq,
            base_version=base,
            op=op,
        )
        future.add_done_callback(partial(self._settled, doc_id, seq))

    async def _presence(self, message: dict[str, Any]) -> None:
        doc_id = read_doc_id(message)
        version = read_int(message, "version", doc=doc_id)
        cursor = read_cursor(message, doc=doc_id)
        info = message.get("info")
        if info is not None and (
            not isinstance(info, dict) or len(orjson.dumps(info)) > MAX_PRESENCE_INFO_BYTES
        ):
            raise ProtocolError(
                ErrorCode.INVALID_FIELD,
                f"field 'info' must be a JSON object of at most {MAX_PRESENCE_INFO_BYTES} bytes",
                doc=doc_id,
            )
        doc = self._opened(doc_id)
        await self._guard.authorize_presence(doc_id)
        self._hub.set_presence(doc, self, version=version, cursor=cursor, info=info)

    async def _subscribe_changes(self, message: dict[str, Any]) -> None:
        if self._changes is None:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, "this server does not sync records")
        self._send_message(await self._changes.subscribe(self, message))

    async def _ping(self, message: dict[str, Any]) -> None:
        self._send_message({"type": "pong", "id": message.get("id")})

    # -- helpers ------------------------------------------------------------------------------

    def _opened(self, doc_id: str, seq: int | None = None) -> Document:
        doc = self._docs.get(doc_id)
        if doc is None:
            raise ProtocolError(
                ErrorCode.DOC_NOT_OPEN,
                f"document {doc_id!r} is not open on this connection",
                doc=doc_id,
                seq=seq,
            )
        return doc

    def _settled(self, doc_id: str, seq: int, future: asyncio.Future[Ack]) -> None:
        """A submission is done: report its failure, or audit its commit (not a duplicate's)."""
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            version, duplicate = future.result()
            if not duplicate:
                self._guard.committed(doc_id, self.client_id, seq, version)
        elif isinstance(exc, ProtocolError):
            self._send_error(exc)
        else:
            self._send_error(ProtocolError(ErrorCode.INTERNAL_ERROR, "internal server error"))

    def _revoke(self, doc_id: str, error: ProtocolError) -> None:
        """Access control closed a document: the user's role on it was revoked."""
        if self._docs.pop(doc_id, None) is not None:
            self._hub.close(doc_id, self)
        self._send_error(error)

    def _send_error(self, error: ProtocolError) -> None:
        self._send_message(error.to_message())

    def _send_message(self, message: dict[str, Any]) -> None:
        self._send(orjson.dumps(message))


# One table for every session, not a dict of bound methods per connection (≈ 1 KB each).
_HANDLERS: dict[str, Callable[[Session, dict[str, Any]], Awaitable[None]]] = {
    "hello": Session._hello,
    "open": Session._open,
    "close": Session._close,
    "submit": Session._submit,
    "presence": Session._presence,
    "ping": Session._ping,
    "auth": Session._auth,
    "subscribe_changes": Session._subscribe_changes,
}
