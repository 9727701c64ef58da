"""One WebSocket to a coedit server, kept up: handshake, reconnect with backoff and jitter, and
routing of each server message to the document it concerns. No protocol state of its own: the
documents' ``DocumentSync`` objects say what to send, on every (re)connect too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

from clients.python.backoff import Backoff
from clients.python.errors import (
    AuthenticationFailed,
    CoeditError,
    ConnectionFailed,
    ServerError,
    SyncError,
)

log = logging.getLogger(__name__)

Message = dict[str, Any]

PROTOCOL = 1
CLOSE_UNSUPPORTED_PROTOCOL = 4000
CLOSE_AUTH_FAILED = 4001
HANDSHAKE_TIMEOUT = 10.0
DEFAULT_MAX_FRAME_BYTES = 1 << 20
STABLE_SECONDS = 10.0  # a connection that lived this long resets the backoff


class Listener(Protocol):
    """Something that follows the connection: told when it comes and goes, and given the
    messages addressed to it."""

    def connected(self) -> None: ...

    def disconnected(self) -> None: ...

    def receive(self, message: Message) -> None: ...


class Handler(Listener, Protocol):
    """One open document (``clients.python.document.Document``): gets the messages naming it."""

    @property
    def doc_id(self) -> str: ...

    def disconnected(self) -> None: ...

    def receive(self, message: Message) -> None: ...


def ws_url(base_url: str) -> str:
    """The WebSocket endpoint of a server at ``http(s)://host:port``."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/v1/ws"
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://") + "/v1/ws"
    return base + "/v1/ws"


class Connection:
    """Keeps one socket open to the server until ``close()``; documents attach to it."""

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        token: str | None = None,
        backoff: Backoff | None = None,
        heartbeat: float = 20.0,
        session: aiohttp.ClientSession | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.url = ws_url(url)
        self.client_id = client_id
        self.failure: CoeditError | None = None  # set when reconnecting cannot help
        self.welcome: Message | None = None
        self._token = token
        self._backoff = backoff or Backoff()
        self._heartbeat = heartbeat
        self._session = session
        self._owns_session = session is None
        self._on_change = on_change
        self._handlers: dict[str, Handler] = {}
        self._listeners: list[Listener] = []  # get the messages that name no document
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._queue: list[Message] = []
        self._unwritten = 0  # queued or being written
        self._queued = asyncio.Event()
        self._written = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether the socket is up and the handshake done."""
        return self._ws is not None

    def start(self) -> None:
        """Start connecting in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"coedit {self.url}")

    async def close(self) -> None:
        """Close the socket and stop reconnecting."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._owns_session and self._session is not None:
            await self._session.close()

    def attach(self, handler: Handler) -> None:
        """Route a document's messages to ``handler``; it is told ``connected()`` now if so."""
        self._handlers[handler.doc_id] = handler
        if self.connected:
            handler.connected()

    def detach(self, doc_id: str) -> None:
        self._handlers.pop(doc_id, None)

    def listen(self, listener: Listener) -> None:
        """Give ``listener`` every message that names no document (change hints, errors)."""
        self._listeners.append(listener)
        if self.connected:
            listener.connected()

    def unlisten(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def send(self, *messages: Message) -> None:
        """Queue messages for the server. Offline they are dropped: on reconnect every document
        regenerates what it still needs to send from its own state."""
        if self._ws is None or not messages:
            return
        self._queue.extend(messages)
        self._unwritten += len(messages)
        self._written.clear()
        self._queued.set()

    async def flush(self) -> None:
        """Wait until every queued message was handed to the socket (or the socket is gone)."""
        while self._unwritten and self._ws is not None:
            await self._written.wait()

    def set_token(self, token: str) -> None:
        """Use a new token: sent now as an ``auth`` refresh, and in every later ``hello``. After
        the server refused the old one, this reconnects."""
        self._token = token
        self.send({"type": "auth", "token": token})
        if isinstance(self.failure, AuthenticationFailed) and self._task is not None:
            self.failure = None
            self._task = None
            self.start()

    # -- the connection loop ------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                ws = await self._connect()
            except (AuthenticationFailed, ServerError) as exc:
                self._fail(exc)
                return
            except (aiohttp.ClientError, OSError, TimeoutError, ConnectionFailed, SyncError) as exc:
                log.debug("connecting to %s failed: %s", self.url, exc)
                await asyncio.sleep(self._backoff.delay(attempt))
                attempt += 1
                continue
            started = time.monotonic()
            try:
                await self._serve(ws)
            except Exception:  # a bug must not end the reconnect loop; the reconnect resyncs
                log.exception("the connection to %s failed", self.url)
            if self.failure is not None:
                return
            attempt = 0 if time.monotonic() - started >= STABLE_SECONDS else attempt + 1
            await asyncio.sleep(self._backoff.delay(attempt))

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        ws = await self._session.ws_connect(self.url, heartbeat=self._heartbeat, autoclose=True)
        try:
            hello: Message = {"type": "hello", "protocol": PROTOCOL, "client": self.client_id}
            if self._token is not None:
                hello["token"] = self._token
            await ws.send_str(json.dumps(hello))
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                self.welcome = await self._handshake_reply(ws)
        except BaseException:
            await ws.close()
            raise
        return ws

    async def _handshake_reply(self, ws: aiohttp.ClientWebSocketResponse) -> Message:
        message = await ws.receive()
        if message.type is not aiohttp.WSMsgType.TEXT:
            code = ws.close_code
            if code == CLOSE_AUTH_FAILED:
                raise AuthenticationFailed("unauthorized", "the server refused the token")
            if code == CLOSE_UNSUPPORTED_PROTOCOL:
                raise ServerError("unsupported_protocol", "the server does not speak protocol 1")
            raise ConnectionFailed(f"the server closed the connection in the handshake ({code})")
        for reply in _decode(message.data):
            if reply.get("type") == "welcome":
                return reply
            if reply.get("type") == "error":
                raise ServerError.from_message(reply)
        raise ConnectionFailed("the server did not answer hello with welcome")

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Run one connection until it drops: tell the documents, pump frames both ways."""
        self._ws = ws
        writer = asyncio.create_task(self._write(ws))
        try:
            for follower in self._followers():
                follower.connected()
            self._on_change()
            await self._read(ws)
        finally:
            writer.cancel()
            self._ws = None
            self._queue.clear()
            self._unwritten = 0
            self._written.set()
            await ws.close()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            for follower in self._followers():
                follower.disconnected()
            self._on_change()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            try:
                for message in _decode(frame.data):
                    self._dispatch(message)
            except SyncError as exc:
                log.warning("resetting the connection: %s", exc)
                return
        if ws.close_code == CLOSE_AUTH_FAILED:
            self._fail(AuthenticationFailed("token_expired", "the server closed with 4001"))

    def _dispatch(self, message: Message) -> None:
        doc = message.get("doc")
        handler = self._handlers.get(doc) if isinstance(doc, str) else None
        if handler is not None:
            handler.receive(message)
            return
        if message.get("type") == "error" and not isinstance(doc, str):
            log.warning("server error: %s: %s", message.get("code"), message.get("message"))
        for listener in list(self._listeners):
            listener.receive(message)

    def _followers(self) -> list[Listener]:
        return [*self._handlers.values(), *self._listeners]

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Send what is queued: what piled up in one turn goes as one frame (a JSON array),
        split where a frame would pass the server's ``max_frame_bytes``."""
        limits = (self.welcome or {}).get("limits") or {}
        max_bytes = int(limits.get("max_frame_bytes") or DEFAULT_MAX_FRAME_BYTES)
        while True:
            await self._queued.wait()
            self._queued.clear()
            batch, self._queue = self._queue, []
            for frame, count in frames(batch, max_bytes):
                await ws.send_str(frame)
                self._unwritten -= count
            if not self._unwritten:
                self._written.set()

    def _fail(self, exc: CoeditError) -> None:
        log.error("giving up on %s: %s", self.url, exc)
        self.failure = exc
        self._on_change()


def frames(messages: list[Message], max_bytes: int) -> list[tuple[str, int]]:
    """Encode messages as JSON-array frames of at most ``max_bytes`` UTF-8 bytes each (a lone
    message larger than that still goes alone: the server answers it with its own error).
    Returns each frame with the number of messages in it."""
    out: list[tuple[str, int]] = []
    parts: list[str] = []
    size = 2  # the brackets
    for message in messages:
        part = json.dumps(message, ensure_ascii=False)
        length = len(part.encode()) + 1  # and a comma
        if parts and size + length > max_bytes:
            out.append(("[" + ",".join(parts) + "]", len(parts)))
            parts, size = [], 2
        parts.append(part)
        size += length
    if parts:
        out.append(("[" + ",".join(parts) + "]", len(parts)))
    return out


def _decode(data: str | bytes) -> list[Message]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise SyncError(f"the server sent a frame that is not JSON: {exc}") from exc
    messages = value if isinstance(value, list) else [value]
    return [m for m in messages if isinstance(m, dict)]
