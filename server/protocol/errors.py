"""Error codes a client can see, and the exception that carries one.

    ProtocolError(code, message)     — any error sent to a client as {"code", "message"}
      codes in three groups:
      ├── client errors: the message or op is wrong; resending it unchanged fails again
      ├── retryable: resync_required, rate_limited, unavailable
      └── internal_error: a server bug

HTTP statuses for the REST API are in ``HTTP_STATUS``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Stable machine-readable error codes (documented in docs/protocol.md)."""

    MALFORMED_MESSAGE = "malformed_message"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    INVALID_DOC_ID = "invalid_doc_id"
    HANDSHAKE_REQUIRED = "handshake_required"
    ALREADY_HANDSHAKEN = "already_handshaken"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    DOC_NOT_OPEN = "doc_not_open"
    NOT_FOUND = "not_found"
    INVALID_OP = "invalid_op"
    OP_MISMATCH = "op_mismatch"
    VERSION_FROM_FUTURE = "version_from_future"
    SEQ_OUT_OF_ORDER = "seq_out_of_order"
    OP_TOO_LARGE = "op_too_large"
    DOC_TOO_LARGE = "doc_too_large"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    TOO_MANY_DOCS = "too_many_docs"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    TOKEN_EXPIRED = "token_expired"
    # retryable
    RESYNC_REQUIRED = "resync_required"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    # server bug
    INTERNAL_ERROR = "internal_error"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.MALFORMED_MESSAGE: 400,
    ErrorCode.UNKNOWN_TYPE: 400,
    ErrorCode.INVALID_FIELD: 400,
    ErrorCode.INVALID_DOC_ID: 400,
    ErrorCode.INVALID_OP: 400,
    ErrorCode.HANDSHAKE_REQUIRED: 400,
    ErrorCode.ALREADY_HANDSHAKEN: 400,
    ErrorCode.UNSUPPORTED_PROTOCOL: 400,
    ErrorCode.DOC_NOT_OPEN: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.OP_MISMATCH: 409,
    ErrorCode.VERSION_FROM_FUTURE: 409,
    ErrorCode.SEQ_OUT_OF_ORDER: 409,
    ErrorCode.RESYNC_REQUIRED: 410,
    ErrorCode.OP_TOO_LARGE: 413,
    ErrorCode.DOC_TOO_LARGE: 413,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.TOO_MANY_DOCS: 429,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}


class ProtocolError(Exception):
    """An error to report to the client; ``extra`` fields travel with it (e.g. ``version``)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        doc: str | None = None,
        seq: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.doc = doc
        self.seq = seq
        self.extra = extra

    def to_message(self) -> dict[str, Any]:
        """The error as a protocol message."""
        msg: dict[str, Any] = {"type": "error", "code": self.code.value, "message": self.message}
        if self.doc is not None:
            msg["doc"] = self.doc
        if self.seq is not None:
            msg["seq"] = self.seq
        msg.update(self.extra)
        return msg

    @property
    def http_status(self) -> int:
        """The HTTP status for this error in the REST API."""
        return HTTP_STATUS[self.code]
