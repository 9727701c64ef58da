"""Routes for single records: read, list, PUT (replace), PATCH (merge), DELETE."""

from __future__ import annotations

from aiohttp import hdrs, web

from server.entities.errors import Code
from server.entities.idempotency import parse_key
from server.entities.model import Kind, Write
from server.entities.web import http
from server.entities.web.keys import ENTITY_SERVICE

routes = web.RouteTableDef()
RECORD = "/v1/collections/{collection}/records/{id}"


@routes.get(RECORD)
@http.handles_errors
async def get_record(request: web.Request) -> web.StreamResponse:
    """One record; ``ETag`` is its version and ``If-None-Match`` answers 304."""
    service = request.app[ENTITY_SERVICE]
    user = await service.access.identify(request.headers)
    record_id = http.check_id(request.match_info["id"], "record id")
    record = await service.get(user, request.match_info["collection"], record_id)
    if http.etag_matches(request, record.etag):
        return web.Response(status=304, headers={hdrs.ETAG: record.etag})
    return http.json_response(request, 200, record.to_json(), {hdrs.ETAG: record.etag})


@routes.get("/v1/collections/{collection}/records")
@http.handles_errors
async def list_records(request: web.Request) -> web.StreamResponse:
    """Live records by id: ``?after=<id>&limit=N``; page on with ``after`` = ``next``."""
    service = request.app[ENTITY_SERVICE]
    user = await service.access.identify(request.headers)
    config = service.config
    limit = http.query_int(request, "limit", config.default_page, config.max_page)
    limit = limit or config.default_page
    after = request.query.get("after", "")
    if after:
        http.check_id(after, "query 'after'")
    found = await service.list_records(
        user, request.match_info["collection"], after=after, limit=limit + 1
    )
    page = found[:limit]
    body = {
        "records": [r.to_json() for r in page],
        "has_more": len(found) > limit,
        "next": page[-1].id if len(found) > limit else None,
    }
    return http.json_response(request, 200, body)


@routes.put(RECORD)
@http.handles_errors
async def put_record(request: web.Request) -> web.StreamResponse:
    """Replace (or create) a record's data."""
    return await _write(request, Kind.PUT)


@routes.patch(RECORD)
@http.handles_errors
async def patch_record(request: web.Request) -> web.StreamResponse:
    """Merge a JSON Merge Patch (RFC 7396) with field operators into a record."""
    return await _write(request, Kind.PATCH)


@routes.delete(RECORD)
@http.handles_errors
async def delete_record(request: web.Request) -> web.StreamResponse:
    """Delete a record, leaving a tombstone in the changes feed."""
    return await _write(request, Kind.DELETE)


async def _write(request: web.Request, kind: Kind) -> web.StreamResponse:
    service = request.app[ENTITY_SERVICE]
    user = await service.access.identify(request.headers)
    collection = service.collection(request.match_info["collection"])
    record_id = http.check_id(request.match_info["id"], "record id")
    body = None
    if kind is not Kind.DELETE:
        raw = await http.read_json(
            request, service.config.max_body_bytes, code=Code.PAYLOAD_TOO_LARGE
        )
        body = http.json_object(raw, "the body")
    write = Write(
        kind=kind,
        collection=collection.name,
        id=record_id,
        body=body,
        if_match=http.if_match(request),
        if_none_match=http.if_none_match_any(request),
        base_version=http.base_version(request),
        key=parse_key(request.headers.get("Idempotency-Key")),
        client=http.client_id(request),
    )
    outcome = await service.write(user, write)
    return http.write_response(request, outcome.response, replayed=outcome.replayed)
