"""Validation of incoming message fields: each reader returns a typed value or raises a
``ProtocolError`` that names the field. Shared by the WebSocket session and the REST API."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ot import InvalidOperation, TextOperation
from server.protocol.errors import ErrorCode, ProtocolError

PROTOCOL_VERSION = 1
_ID = re.compile(r"[A-Za-z0-9_:@\-][A-Za-z0-9._:@\-]*")
MAX_DOC_ID = 200
MAX_CLIENT_ID = 100
MAX_SEQ = 2**53 - 1


def decode_frame(data: str | bytes) -> list[dict[str, Any]]:
    """Decode one frame into its messages: a JSON object, or an array of objects."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.MALFORMED_MESSAGE, f"frame is not valid JSON: {exc}") from exc
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        return value
    raise ProtocolError(
        ErrorCode.MALFORMED_MESSAGE, "a frame must be a message object or a non-empty array of them"
    )


def _invalid(name: str, why: str, **context: Any) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_FIELD, f"field {name!r} {why}", **context)


def read_int(msg: dict[str, Any], name: str, *, minimum: int = 0, **context: Any) -> int:
    """A required integer field ``>= minimum`` (booleans are not integers here)."""
    value = msg.get(name)
    if type(value) is not int:
        raise _invalid(name, f"must be an integer, got {type(value).__name__}", **context)
    if not minimum <= value <= MAX_SEQ:
        raise _invalid(name, f"must be between {minimum} and {MAX_SEQ}, got {value}", **context)
    return value


def read_optional_int(msg: dict[str, Any], name: str, **context: Any) -> int | None:
    """An optional non-negative integer field."""
    return None if msg.get(name) is None else read_int(msg, name, **context)


def read_id(msg: dict[str, Any], name: str, *, max_length: int) -> str:
    """A required identifier field (document or client id)."""
    value = msg.get(name)
    if not isinstance(value, str):
        raise _invalid(name, f"must be a string, got {type(value).__name__}")
    return check_id(value, name, max_length=max_length)


def check_id(value: str, name: str, *, max_length: int) -> str:
    """Check an identifier against the id alphabet and length."""
    if not 0 < len(value) <= max_length or not _ID.fullmatch(value):
        code = ErrorCode.INVALID_DOC_ID if name == "doc" else ErrorCode.INVALID_FIELD
        raise ProtocolError(
            code,
            f"{name} {value[:60]!r} must be 1-{max_length} characters of A-Z a-z 0-9 . _ : @ -"
            " and not start with '.'",
        )
    return value


def read_doc_id(msg: dict[str, Any]) -> str:
    """The ``doc`` field."""
    return read_id(msg, "doc", max_length=MAX_DOC_ID)


def read_op(
    msg: dict[str, Any], *, max_op_chars: int, doc: str, seq: int | None = None
) -> TextOperation:
    """The ``op`` field, parsed strictly; too many inserted characters is ``op_too_large``."""
    if msg.get("op") is None:
        raise _invalid("op", "is missing", doc=doc, seq=seq)
    try:
        op = TextOperation.from_json(msg.get("op"))
    except InvalidOperation as exc:
        raise ProtocolError(ErrorCode.INVALID_OP, f"op: {exc}", doc=doc, seq=seq) from exc
    inserted = sum(len(c) for c in op.components if type(c) is str)
    if inserted > max_op_chars:
        raise ProtocolError(
            ErrorCode.OP_TOO_LARGE,
            f"op inserts {inserted} characters; the limit is {max_op_chars}: split the edit",
            doc=doc,
            seq=seq,
        )
    return op


def read_cursor(msg: dict[str, Any], **context: Any) -> tuple[int, int] | None:
    """The ``cursor`` field: ``[anchor, head]`` or null."""
    value = msg.get("cursor")
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(type(v) is int and 0 <= v <= MAX_SEQ for v in value)
    ):
        raise _invalid("cursor", "must be [anchor, head] with two non-negative integers", **context)
    return value[0], value[1]
