"""REST routes of access control: access lists of documents and collections, and the audit log.

GET|PUT|PATCH /v1/docs/{doc}/acl              owners and admins
GET|PUT|PATCH /v1/collections/{collection}/acl
GET /v1/audit?doc=|collection=&cursor=&limit=  owners of that object; the whole log: admins
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from server.auth.acl import AccessList, Action, Resource, check_collection_name
from server.auth.events import AuditKind
from server.auth.web import ACCESS, authorize, request_identity
from server.protocol.errors import ErrorCode, ProtocolError
from server.protocol.fields import MAX_DOC_ID, check_id
from server.storage import StorageError

DEFAULT_AUDIT_PAGE = 100
MAX_AUDIT_PAGE = 1000
_FLUSH_SECONDS = 5.0

routes = web.RouteTableDef()


def _json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _resource(request: web.Request) -> Resource:
    if "doc" in request.match_info:
        return Resource.doc(check_id(request.match_info["doc"], "doc", max_length=MAX_DOC_ID))
    return Resource.collection(check_collection_name(request.match_info["collection"]))


async def _body(request: web.Request) -> Any:
    try:
        return orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(ErrorCode.MALFORMED_MESSAGE, f"body is not valid JSON: {exc}") from exc


@routes.get("/v1/docs/{doc}/acl")
@routes.get("/v1/collections/{collection}/acl")
async def get_acl(request: web.Request) -> web.Response:
    """The object's access list (owners and admins only)."""
    resource = _resource(request)
    identity = await request_identity(request)
    acl = await request.app[ACCESS].authorizer.read_acl(identity, resource)
    return _json(acl.to_json())


@routes.put("/v1/docs/{doc}/acl")
@routes.put("/v1/collections/{collection}/acl")
async def put_acl(request: web.Request) -> web.Response:
    """Replace the object's access list."""
    replacement = AccessList.from_json(await _body(request))
    return await _change(request, lambda _: replacement)


@routes.patch("/v1/docs/{doc}/acl")
@routes.patch("/v1/collections/{collection}/acl")
async def patch_acl(request: web.Request) -> web.Response:
    """Merge-patch the object's access list (RFC 7396: a null role removes the entry)."""
    patch = await _body(request)
    return await _change(request, lambda acl: acl.patched(patch))


async def _change(request: web.Request, change: Callable[[AccessList], AccessList]) -> web.Response:
    resource = _resource(request)
    identity = await request_identity(request)
    access = request.app[ACCESS]
    try:
        before, after = await access.authorizer.change_acl(identity, resource, change)
    except ProtocolError as exc:
        if exc.code is ErrorCode.FORBIDDEN:
            access.denied(identity, resource, Action.MANAGE, remote=request.remote, via="rest")
        raise
    access.audit.record(
        AuditKind.ACL_CHANGED,
        user=identity.user,
        remote=request.remote,
        resource=resource,
        before=None if before is None else before.to_json(),
        after=after.to_json(),
    )
    return _json(after.to_json())


@routes.get("/v1/audit")
async def get_audit(request: web.Request) -> web.Response:
    """Audit entries after ``cursor``, oldest first, at most ``limit``.

    ``next_cursor`` continues the walk (also later, to tail the log); ``has_more`` says whether
    more entries are stored already.
    """
    resource = _audit_resource(request)
    after = _cursor(request)
    limit = _limit(request)
    access = request.app[ACCESS]
    if resource is None:
        identity = await request_identity(request)
        if not access.authorizer.is_admin(identity):
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                "only admins may read the whole audit log; owners ask for one object with "
                "?doc= or ?collection=",
            )
    else:
        await authorize(request, resource, Action.MANAGE)
    with contextlib.suppress(TimeoutError):  # read what is stored, even if the store lags
        await asyncio.wait_for(access.audit.flush(), _FLUSH_SECONDS)
    try:
        entries = await access.store.read_audit(resource, after, limit + 1)
    except StorageError as exc:
        raise ProtocolError(ErrorCode.UNAVAILABLE, "the audit log is unavailable") from exc
    page = entries[:limit]
    last = page[-1].id if page else after
    return _json(
        {
            "entries": [entry.to_json() for entry in page],
            "next_cursor": str(last),
            "has_more": len(entries) > limit,
        }
    )


def _audit_resource(request: web.Request) -> Resource | None:
    doc, collection = request.query.get("doc"), request.query.get("collection")
    if doc is not None and collection is not None:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "give doc or collection, not both")
    if doc is not None:
        return Resource.doc(check_id(doc, "doc", max_length=MAX_DOC_ID))
    if collection is not None:
        return Resource.collection(check_collection_name(collection))
    return None


def _cursor(request: web.Request) -> int:
    raw = request.query.get("cursor", "0")
    if not raw.isdigit() or len(raw) > 18:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, "query 'cursor' must be a next_cursor from an earlier page"
        )
    return int(raw)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_AUDIT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_AUDIT_PAGE:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, f"query 'limit' must be an integer from 1 to {MAX_AUDIT_PAGE}"
        )
    return int(raw)
