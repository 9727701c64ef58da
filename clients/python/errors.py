"""Errors the Python client raises. Depends on nothing but the standard library.

CoeditError                  — every error this client raises
├── ServerError              — the server answered with an error {code, message}
│   └── AuthenticationFailed — the token is missing, wrong or expired (401, close 4001)
├── ConnectionFailed         — the server could not be reached in time
├── SyncError                — the server's messages contradict the local replica; the
│                              connection is reset and the document reopened
└── DocumentClosed           — a document was used after ``close()``
"""

from __future__ import annotations

from typing import Any


class CoeditError(Exception):
    """Base class of every error raised by the coedit Python client."""


class ServerError(CoeditError):
    """The server rejected a request: ``code`` is the stable error code of docs/protocol.md."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message
        self.status = status

    @classmethod
    def from_message(cls, message: dict[str, Any], status: int | None = None) -> ServerError:
        """Build from an ``error`` message or a REST error body's ``error`` object."""
        code = str(message.get("code", "unknown"))
        text = str(message.get("message", "the server reported an error"))
        kind = AuthenticationFailed if code in AUTH_CODES else ServerError
        return kind(code, text, status=status)


class AuthenticationFailed(ServerError):
    """The server refused the credentials; retrying with the same token fails again."""


class ConnectionFailed(CoeditError):
    """The server could not be reached (it is down, or the URL is wrong)."""


class SyncError(CoeditError):
    """A server message does not fit the local replica (a gap in versions, an unexpected ack)."""


class DocumentClosed(CoeditError):
    """The document was closed; open it again to keep editing."""


AUTH_CODES = frozenset({"unauthorized", "token_expired"})
