"""What the server needs of an open WebSocket, whichever path serves it: the lean protocol
(``server.web.websocket``) or aiohttp's ``WebSocketResponse`` (the fallback route)."""

from __future__ import annotations

from typing import Protocol


class OpenSocket(Protocol):
    """A server-side WebSocket the outbox writes to and the server may close."""

    @property
    def closed(self) -> bool:
        """Whether a close frame was sent or received: nothing more may be sent."""

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool:
        """Close with ``code`` and ``message`` and wait for the peer's close frame; False if the
        socket was already closing."""
