"""REST routes for text documents: snapshot, op catch-up and op submission."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from server.auth.acl import Action, Resource
from server.auth.events import AuditKind
from server.auth.web import authorize, authorize_submit, record
from server.hub.history import op_entry
from server.hub.hub import Hub
from server.protocol.errors import ErrorCode, ProtocolError
from server.protocol.fields import (
    MAX_CLIENT_ID,
    MAX_DOC_ID,
    check_id,
    read_id,
    read_int,
    read_op,
)
from server.web.keys import HUB, SETTINGS

MAX_OPS_PAGE = 1000
DEFAULT_OPS_PAGE = 100

routes = web.RouteTableDef()


def _doc_id(request: web.Request) -> str:
    return check_id(request.match_info["doc"], "doc", max_length=MAX_DOC_ID)


def _json(body: Any, **kwargs: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json", **kwargs)


def _query_int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= maximum:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, f"query {name!r} must be an integer from 0 to {maximum}"
        )
    return value


@routes.get("/v1/docs/{doc}")
async def get_document(request: web.Request) -> web.Response:
    """The document's text and version; ``ETag`` is the version."""
    doc_id = _doc_id(request)
    identity = await authorize(request, Resource.doc(doc_id), Action.READ)
    snapshot = await request.app[HUB].snapshot(doc_id)
    record(request, AuditKind.DOC_OPENED, identity, doc_id, version=snapshot.version, via="rest")
    etag = f'"{snapshot.version}"'
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers={"ETag": etag})
    body = {"doc": request.match_info["doc"], "version": snapshot.version, "text": snapshot.text}
    return _json(body, headers={"ETag": etag})


@routes.get("/v1/docs/{doc}/ops")
async def get_ops(request: web.Request) -> web.Response:
    """Ops committed after ``since``, oldest first, paginated by ``limit``."""
    doc_id = _doc_id(request)
    since = _query_int(request, "since", 0, 2**53)
    limit = _query_int(request, "limit", DEFAULT_OPS_PAGE, MAX_OPS_PAGE) or DEFAULT_OPS_PAGE
    await authorize(request, Resource.doc(doc_id), Action.READ)
    ops, version = await request.app[HUB].ops_page(doc_id, since, limit)
    last = ops[-1].version if ops else since
    body = {
        "doc": doc_id,
        "version": version,
        "has_more": last < version,
        "ops": [{**op_entry(c), "time": c.time} for c in ops],
    }
    return _json(body)


@routes.post("/v1/docs/{doc}/ops")
async def post_op(request: web.Request) -> web.Response:
    """Submit one op with the WebSocket ``submit`` semantics; answers once it is durable."""
    doc_id = _doc_id(request)
    try:
        message = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.MALFORMED_MESSAGE, f"body is not valid JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.MALFORMED_MESSAGE, "body must be a JSON object")
    client_id = read_id(message, "client", max_length=MAX_CLIENT_ID)
    seq = read_int(message, "seq", minimum=1)
    base = read_int(message, "version")
    op = read_op(message, max_op_chars=request.app[SETTINGS].limits.max_op_chars, doc=doc_id)
    identity = await authorize_submit(request, doc_id, client_id)
    hub: Hub = request.app[HUB]
    doc = await hub.document(doc_id, create=True)
    future = hub.submit(
        doc, origin=None, client_id=client_id, user=identity.user, seq=seq, base_version=base, op=op
    )
    version, duplicate = await future
    if not duplicate:
        detail = {"version": version, "client": client_id, "seq": seq, "via": "rest"}
        record(request, AuditKind.OP_COMMITTED, identity, doc_id, **detail)
    return _json({"doc": doc_id, "version": version, "seq": seq, "duplicate": duplicate})
