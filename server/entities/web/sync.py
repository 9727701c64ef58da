"""Routes of the sync protocol: the changes feed (pull) and outbox batches (push)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.entities.errors import Code, EntityError
from server.entities.idempotency import parse_key
from server.entities.model import Kind, Response, Write
from server.entities.service import PullRequest
from server.entities.store.base import Outcome
from server.entities.web import http
from server.entities.web.keys import ENTITY_SERVICE

routes = web.RouteTableDef()


@routes.get("/v1/changes")
@http.handles_errors
async def changes(request: web.Request) -> web.StreamResponse:
    """``?since=CURSOR&limit=N&collections=a,b&wait=S&own=mark|omit``: changes in commit order."""
    service = request.app[ENTITY_SERVICE]
    user = await service.access.identify(request.headers)
    config = service.config
    own = request.query.get("own", "mark")
    if own not in ("mark", "omit"):
        raise EntityError(Code.INVALID_FIELD, "query 'own' must be 'mark' or 'omit'")
    pull = PullRequest(
        since=request.query.get("since") or None,
        limit=http.query_int(request, "limit", config.default_page, config.max_page)
        or config.default_page,
        collections=http.query_list(request, "collections"),
        wait=http.query_float(request, "wait", config.max_wait_seconds),
        client=http.client_id(request),
        omit_own=own == "omit",
    )
    page = await service.pull(user, pull)
    return http.json_response(request, 200, page.to_json())


@routes.post("/v1/batch")
@http.handles_errors
async def batch(request: web.Request) -> web.StreamResponse:
    """An outbox upload: ``{"writes": [...], "atomic": false}``; one result per write."""
    service = request.app[ENTITY_SERVICE]
    user = await service.access.identify(request.headers)
    config = service.config
    body = http.json_object(
        await http.read_json(request, config.max_body_bytes, code=Code.BATCH_TOO_LARGE), "the body"
    )
    items = body.get("writes")
    if not isinstance(items, list):
        raise EntityError(Code.INVALID_FIELD, "field 'writes' must be an array of writes")
    if len(items) > config.max_batch_writes:
        raise EntityError(
            Code.BATCH_TOO_LARGE,
            f"{len(items)} writes in one batch; the limit is {config.max_batch_writes}: split it",
            max_writes=config.max_batch_writes,
            max_bytes=config.max_body_bytes,
        )
    atomic = body.get("atomic", False)
    if not isinstance(atomic, bool):
        raise EntityError(Code.INVALID_FIELD, "field 'atomic' must be true or false")
    client = http.client_id(request)
    writes = [_parse_item(item, client) for item in items]
    outcomes = await service.batch(user, writes, atomic=atomic)
    results = [_result(i, o) for i, o in enumerate(outcomes)]
    return http.json_response(request, 200, {"results": results})


def _parse_item(item: Any, client: str | None) -> Write | EntityError:
    """One batch item as a ``Write``, or the error that makes it permanently invalid."""
    try:
        item = http.json_object(item, "a write")
        try:
            kind = Kind(item.get("op"))
        except ValueError:
            raise EntityError(
                Code.INVALID_FIELD, "field 'op' must be 'put', 'patch' or 'delete'"
            ) from None
        collection, record_id = item.get("collection"), item.get("id")
        if not isinstance(collection, str) or not isinstance(record_id, str):
            raise EntityError(Code.INVALID_FIELD, "fields 'collection' and 'id' must be strings")
        data = item.get("data")
        if kind is not Kind.DELETE:
            data = http.json_object(data, "field 'data'")
        return Write(
            kind=kind,
            collection=collection,
            id=http.check_id(record_id, "record id"),
            body=data if kind is not Kind.DELETE else None,
            if_match=_optional_version(item, "if_match"),
            if_none_match=_if_none_match(item),
            base_version=_optional_version(item, "base_version"),
            key=_key(item.get("idempotency_key")),
            client=client,
        )
    except EntityError as exc:
        return exc


def _optional_version(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise EntityError(Code.INVALID_FIELD, f"field {name!r} must be a version number")
    return value


def _if_none_match(item: dict[str, Any]) -> bool:
    value = item.get("if_none_match")
    if value not in (None, "*"):
        raise EntityError(Code.INVALID_FIELD, "field 'if_none_match' takes only '*'")
    return value == "*"


def _key(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise EntityError(Code.INVALID_IDEMPOTENCY_KEY, "field 'idempotency_key' must be a string")
    return parse_key(value)


def _result(index: int, outcome: Outcome) -> dict[str, Any]:
    response: Response = outcome.response
    result: dict[str, Any] = {"index": index, "status": response.status}
    if response.ok:
        body = dict(response.body)
        result.update(
            result="ok",
            version=body["version"],
            conflicts=body.pop("conflicts", []),
            record=body,
            replayed=outcome.replayed,
        )
        return result
    error = dict(response.body["error"])
    result["result"] = "conflict" if response.status == 412 else "error"
    if "current" in error:
        result["current"] = error.pop("current")
    result["error"] = error
    result["replayed"] = outcome.replayed
    return result
