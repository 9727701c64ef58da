"""HTTP helpers of the entities API: reading headers, query parameters and bodies into typed
values (or ``EntityError``), and writing JSON answers, gzip-compressed when the client accepts."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import hdrs, web
from aiohttp.web_response import ContentCoding

from server.entities.errors import Code, EntityError
from server.entities.model import Response

log = logging.getLogger(__name__)

ID = re.compile(r"[A-Za-z0-9_:@\-][A-Za-z0-9._:@\-]{0,199}")
CLIENT_HEADER = "Coedit-Client"
BASE_VERSION_HEADER = "Coedit-Base-Version"
REPLAYED_HEADER = "Idempotent-Replayed"
_COMPRESS_ABOVE = 1024
_ETAG = re.compile(r'\s*(?:W/)?"(\d{1,15})"\s*')

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def handles_errors(handler: Handler) -> Handler:
    """Answer an ``EntityError`` raised by ``handler`` with its JSON error body."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except EntityError as exc:
            return json_response(request, exc.status, exc.to_body())

    return wrapped


def json_response(
    request: web.Request, status: int, body: Any, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer; gzip when it is large enough and the client sent
    ``Accept-Encoding: gzip``."""
    payload = orjson.dumps(body)
    response = web.Response(
        body=payload, status=status, content_type="application/json", headers=headers
    )
    if len(payload) > _COMPRESS_ABOVE:
        response.headers[hdrs.VARY] = hdrs.ACCEPT_ENCODING
        if "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, "").lower():
            response.enable_compression(ContentCoding.gzip)
    return response


def write_response(request: web.Request, response: Response, *, replayed: bool) -> web.Response:
    """The HTTP answer of a write (or of its idempotent replay)."""
    headers: dict[str, str] = {}
    if response.etag is not None:
        headers[hdrs.ETAG] = response.etag
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return json_response(request, response.status, response.body, headers)


def check_id(value: str, what: str) -> str:
    """A record id: 1-200 characters of ``A-Z a-z 0-9 . _ : @ -``, not starting with ``.``."""
    if not ID.fullmatch(value):
        raise EntityError(
            Code.INVALID_ID,
            f"{what} {value[:80]!r} must be 1-200 characters of A-Z a-z 0-9 . _ : @ - "
            "and not start with '.'",
        )
    return value


def query_int(request: web.Request, name: str, default: int, maximum: int) -> int:
    """An integer query parameter in ``0..maximum``."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise EntityError(Code.INVALID_FIELD, f"query {name!r} must be an integer 0-{maximum}")
    return int(raw)


def query_float(request: web.Request, name: str, maximum: float) -> float:
    """A non-negative number query parameter up to ``maximum`` (0 when absent)."""
    raw = request.query.get(name)
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= maximum:
        raise EntityError(Code.INVALID_FIELD, f"query {name!r} must be a number 0-{maximum}")
    return value


def query_list(request: web.Request, name: str) -> list[str] | None:
    """A comma-separated query parameter, or None when absent."""
    raw = request.query.get(name)
    if raw is None:
        return None
    return [part for part in raw.split(",") if part]


def client_id(request: web.Request) -> str | None:
    """The ``Coedit-Client`` header: the client instance (device) making the request."""
    value = request.headers.get(CLIENT_HEADER)
    return None if value is None else check_id(value, CLIENT_HEADER)


def if_match(request: web.Request) -> int | None:
    """The version of ``If-Match: "v"`` (one strong ETag), or None."""
    raw = request.headers.get(hdrs.IF_MATCH)
    if raw is None:
        return None
    match = _ETAG.fullmatch(raw)
    if match is None:
        raise EntityError(
            Code.INVALID_FIELD, f'If-Match must be one version in quotes, e.g. "3"; got {raw!r}'
        )
    return int(match.group(1))


def if_none_match_any(request: web.Request) -> bool:
    """True for ``If-None-Match: *`` (create only); other values are refused on writes."""
    raw = request.headers.get(hdrs.IF_NONE_MATCH)
    if raw is None:
        return False
    if raw.strip() != "*":
        raise EntityError(Code.INVALID_FIELD, "on writes If-None-Match takes only '*'")
    return True


def base_version(request: web.Request) -> int | None:
    """``Coedit-Base-Version``: the version the client last saw (for conflict reports)."""
    raw = request.headers.get(BASE_VERSION_HEADER)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise EntityError(Code.INVALID_FIELD, f"{BASE_VERSION_HEADER} must be a version number")
    return int(raw)


def etag_matches(request: web.Request, etag: str) -> bool:
    """True if ``If-None-Match`` lists ``etag`` (or is ``*``): the client's copy is current."""
    raw = request.headers.get(hdrs.IF_NONE_MATCH)
    if raw is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in raw.split(",")}
    return "*" in tags or etag in tags


async def read_json(request: web.Request, max_bytes: int, *, code: Code) -> Any:
    """The request body as JSON, at most ``max_bytes`` long (else 413 with the limit)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes, code)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes, code)
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise EntityError(Code.MALFORMED_JSON, f"the body is not valid JSON: {exc}") from None


def _too_large(max_bytes: int, code: Code) -> EntityError:
    return EntityError(
        code, f"the body is larger than {max_bytes} bytes; split it", max_bytes=max_bytes
    )


def json_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise EntityError(
            Code.MALFORMED_JSON, f"{what} must be a JSON object, got {type(value).__name__}"
        )
    return value
