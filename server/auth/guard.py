"""What a connection's protocol logic asks of access control, and the guard of a server without
it. ``server.hub.session.Session`` calls these hooks; ``ConnectionGuard`` is the real one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from server.protocol.errors import ProtocolError

SendError = Callable[[ProtocolError], None]
Revoke = Callable[[str, ProtocolError], None]  # close this document on the connection


class Guard(Protocol):
    """Per-connection authentication, authorisation, abuse limits and auditing.

    Every check raises a ``ProtocolError`` to send to the client; the session then skips the
    message. ``attach`` gives the guard the session's callbacks for what it does on its own
    initiative: closing a document whose role was revoked, reporting an expired token.
    """

    def attach(self, send_error: SendError, revoke: Revoke) -> None:
        """Called once by the session that owns this guard."""

    def admit(self, message: dict[str, Any]) -> None:
        """Count one incoming message against the connection's rate; ``rate_limited`` if over."""

    async def authenticate(self, token: Any) -> str | None:
        """Verify the ``hello`` token; the user id. On failure the session closes with 4001."""

    def token_info(self) -> dict[str, Any]:
        """Fields about the token for ``welcome`` and ``authed`` (``expires``), if any."""

    async def reauthenticate(self, token: Any) -> None:
        """Replace the connection's token with a fresh one for the same user."""

    async def authorize_open(self, doc_id: str) -> None:
        """May the user open (and, if new, create) the document?"""

    def opened(self, doc_id: str, version: int) -> None:
        """The document is open on this connection at ``version``."""

    async def authorize_submit(self, doc_id: str, client_id: str, seq: int) -> None:
        """May the user submit this op to the document, under this client id?"""

    async def authorize_presence(self, doc_id: str) -> None:
        """May the user still see the document (presence is allowed to viewers)?"""

    def committed(self, doc_id: str, client_id: str, seq: int, version: int) -> None:
        """An op of this connection was committed at ``version``."""

    def closed(self, doc_id: str) -> None:
        """The document is no longer open on this connection."""

    def disconnect(self) -> None:
        """The connection is gone."""


class OpenGuard:
    """Allows everything and records nothing: a ``Session`` built without access control."""

    def attach(self, send_error: SendError, revoke: Revoke) -> None:
        pass

    def admit(self, message: dict[str, Any]) -> None:
        pass

    async def authenticate(self, token: Any) -> str | None:
        return None

    def token_info(self) -> dict[str, Any]:
        return {}

    async def reauthenticate(self, token: Any) -> None:
        pass

    async def authorize_open(self, doc_id: str) -> None:
        pass

    def opened(self, doc_id: str, version: int) -> None:
        pass

    async def authorize_submit(self, doc_id: str, client_id: str, seq: int) -> None:
        pass

    async def authorize_presence(self, doc_id: str) -> None:
        pass

    def committed(self, doc_id: str, client_id: str, seq: int, version: int) -> None:
        pass

    def closed(self, doc_id: str) -> None:
        pass

    def disconnect(self) -> None:
        pass
