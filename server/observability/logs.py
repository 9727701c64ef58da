"""Structured logs: one line per event, as ``key=value`` pairs (logfmt) or JSON, each carrying the
id of the request or connection it belongs to.

A middleware gives every request an id (the client's ``X-Request-Id`` if it is sane, else a new
one), returns it in the response header and logs one line when the request ends. A WebSocket's
id and line come from its handler instead (``server.observability.connection``), the line when
the connection closes. Everything logged while handling the request (including
from the hub) carries ``request_id``. Extra fields go in ``extra={...}``: ``log.info("evicted",
extra={"documents": 3})`` prints ``... msg=evicted documents=3``.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from server.observability.web import route_template

REQUEST_ID: ContextVar[str | None] = ContextVar("coedit_request_id", default=None)
REQUEST_ID_HEADER = "X-Request-Id"
FORMATS = ("logfmt", "json")

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_BARE_VALUE = re.compile(r"[^\s=\"]+")
# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

access_log = logging.getLogger("coedit.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def event_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields of one log line, in a stable order: time, level, logger, message, context."""
    fields: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    request_id = REQUEST_ID.get()
    if request_id is not None and "request_id" not in record.__dict__:
        fields["request_id"] = request_id
    for key, value in record.__dict__.items():
        if key not in _STANDARD and not key.startswith("_"):
            fields[key] = value
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


class LogfmtFormatter(logging.Formatter):
    """``ts=... level=info logger=coedit.access msg=request route=/v1/ws status=101 ...``"""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt_value(v)}" for key, v in event_fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the same fields as the logfmt lines."""

    def format(self, record: logging.LogRecord) -> str:
        return orjson.dumps(event_fields(record), default=str).decode()


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if _BARE_VALUE.fullmatch(text):
        return text
    return orjson.dumps(text).decode()  # quoted, with newlines and quotes escaped


def configure_logging(level: str, log_format: str) -> None:
    """Send every log line to stderr in ``log_format`` (``logfmt`` or ``json``)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def request_id_of(request: web.Request) -> str:
    """The client's request id if it is a short plain token, else a fresh random one."""
    return request_id_from(request.headers.get(REQUEST_ID_HEADER, ""))


def request_id_from(given: str) -> str:
    """``given`` (an ``X-Request-Id`` value) if it is a short plain token, else a fresh one."""
    return given if _SANE_ID.fullmatch(given) else secrets.token_hex(8)


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id for everything the request logs, and log one line when it ends."""
    request_id = request_id_of(request)
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:  # else send_request_id already did it
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        seconds = time.perf_counter() - started
        access_line(
            request.method, route_template(request), request.remote, request_id, status, seconds
        )
        REQUEST_ID.reset(token)


def access_line(
    method: str, route: str, remote: str | None, request_id: str, status: int, seconds: float
) -> None:
    """Log the ``coedit.access`` line of a request (``route``: its template) that ended after
    ``seconds``."""
    access_log.info(
        "request",
        extra={
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "remote": remote,
        },
    )


async def send_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: echo the request id in responses prepared inside the handler,
    such as WebSocket upgrades, which the middleware sees only once their headers are sent."""
    request_id = REQUEST_ID.get()
    if request_id is not None:
        response.headers[REQUEST_ID_HEADER] = request_id
