"""Errors of the entities API: one exception type with a stable code and an HTTP status.

    EntityError(code, message, **extra)   — sent as {"error": {"code", "message", **extra}}
      ├── client errors (4xx): the request is wrong; resending it unchanged fails again, except
      │     precondition_failed and idempotency_key_in_use, which depend on other writes
      ├── retryable: cursor_expired (resync), rate_limited, unavailable
      └── internal_error: a server bug

Every code, its status and what a client should do is listed in ``docs/entities.md``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Stable machine-readable error codes of the entities API."""

    MALFORMED_JSON = "malformed_json"
    INVALID_FIELD = "invalid_field"
    INVALID_ID = "invalid_id"
    INVALID_CURSOR = "invalid_cursor"
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    UNKNOWN_COLLECTION = "unknown_collection"
    NOT_FOUND = "not_found"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    PRECONDITION_FAILED = "precondition_failed"
    PRECONDITION_REQUIRED = "precondition_required"
    BATCH_TOO_LARGE = "batch_too_large"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    SCHEMA_VIOLATION = "schema_violation"
    SERVER_FIELD = "server_field"
    INVALID_OPERATOR = "invalid_operator"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    ABORTED = "aborted"
    # retryable
    CURSOR_EXPIRED = "cursor_expired"
    UNAVAILABLE = "unavailable"
    # server bug
    INTERNAL_ERROR = "internal_error"


STATUS: dict[Code, int] = {
    Code.MALFORMED_JSON: 400,
    Code.INVALID_FIELD: 400,
    Code.INVALID_ID: 400,
    Code.INVALID_CURSOR: 400,
    Code.INVALID_IDEMPOTENCY_KEY: 400,
    Code.IDEMPOTENCY_KEY_REQUIRED: 400,
    Code.UNAUTHORIZED: 401,
    Code.FORBIDDEN: 403,
    Code.UNKNOWN_COLLECTION: 404,
    Code.NOT_FOUND: 404,
    Code.IDEMPOTENCY_KEY_IN_USE: 409,
    Code.CURSOR_EXPIRED: 410,
    Code.PRECONDITION_FAILED: 412,
    Code.BATCH_TOO_LARGE: 413,
    Code.PAYLOAD_TOO_LARGE: 413,
    Code.SCHEMA_VIOLATION: 422,
    Code.SERVER_FIELD: 422,
    Code.INVALID_OPERATOR: 422,
    Code.IDEMPOTENCY_KEY_REUSED: 422,
    Code.ABORTED: 424,
    Code.PRECONDITION_REQUIRED: 428,
    Code.UNAVAILABLE: 503,
    Code.INTERNAL_ERROR: 500,
}


class EntityError(Exception):
    """An error to report to the client; ``extra`` fields travel in its body."""

    def __init__(self, code: Code, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        """The HTTP status of this error."""
        return STATUS[self.code]

    def to_body(self) -> dict[str, Any]:
        """The error as the JSON body ``{"error": {...}}``."""
        return {"error": self.to_result()}

    def to_result(self) -> dict[str, Any]:
        """The inner ``{"code", "message", **extra}`` object (also a batch result's error)."""
        return {"code": self.code.value, "message": self.message, **self.extra}
