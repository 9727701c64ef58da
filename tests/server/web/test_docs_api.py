"""The REST API over a real socket: snapshots with ETags, paginated op catch-up, op submission
with the WebSocket's semantics, and every documented status for bad input."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.config import HubSettings, Limits
from server.storage import Snapshot
from server.web.keys import STORE
from tests.server.wsclient import WsClient


async def call(
    http: aiohttp.ClientSession,
    server: TestServer,
    method: str,
    path: str,
    *,
    json: Any = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request; returns the status and the decoded JSON body (None when empty)."""
    url = server.make_url(path)
    async with http.request(method, url, json=json, data=data, headers=headers) as response:
        body = await response.read()
        return response.status, (await response.json() if body else None)


def post(seq: Any, version: Any, op: Any, client: str = "rest-1") -> dict[str, Any]:
    return {"client": client, "seq": seq, "version": version, "op": op}


async def assert_error(
    http: aiohttp.ClientSession, server: TestServer, status: int, code: str, *args: Any, **kw: Any
) -> None:
    got, body = await call(http, server, *args, **kw)
    assert (got, body["error"]["code"]) == (status, code), body
    assert body["error"]["message"], body


async def test_post_commits_and_get_serves_the_snapshot_with_an_etag(server, http) -> None:
    status, body = await call(http, server, "POST", "/v1/docs/notes/ops", json=post(1, 0, ["hi"]))
    assert (status, body) == (200, {"doc": "notes", "version": 1, "seq": 1, "duplicate": False})
    async with http.get(server.make_url("/v1/docs/notes")) as response:
        assert response.status == 200 and response.headers["ETag"] == '"1"'
        assert await response.json() == {"doc": "notes", "version": 1, "text": "hi"}

    status, body = await call(
        http, server, "GET", "/v1/docs/notes", headers={"If-None-Match": '"1"'}
    )
    assert (status, body) == (304, None)
    await call(http, server, "POST", "/v1/docs/notes/ops", json=post(2, 1, [2, "!"]))
    status, body = await call(
        http, server, "GET", "/v1/docs/notes", headers={"If-None-Match": '"1"'}
    )
    assert (status, body["text"]) == (200, "hi!")  # newer than the client's copy: sent again


async def test_a_repeated_post_is_a_duplicate_with_its_original_version(server, http) -> None:
    await call(http, server, "POST", "/v1/docs/d/ops", json=post(1, 0, ["a"]))
    await call(http, server, "POST", "/v1/docs/d/ops", json=post(1, 1, [1, "b"], client="other"))
    status, body = await call(http, server, "POST", "/v1/docs/d/ops", json=post(1, 0, ["a"]))
    assert (status, body) == (200, {"doc": "d", "version": 1, "seq": 1, "duplicate": True})
    assert (await call(http, server, "GET", "/v1/docs/d"))[1]["text"] == "ab"


async def test_a_post_reaches_websocket_subscribers(server, http, connect) -> None:
    ws: WsClient = await connect("alice")
    await ws.open("live")
    await call(http, server, "POST", "/v1/docs/live/ops", json=post(1, 0, ["from rest"]))
    op = await ws.expect_type("op")
    assert (op["version"], op["op"], op["client"], op["seq"]) == (1, ["from rest"], "rest-1", 1)


async def test_ops_are_paginated_oldest_first(server, http) -> None:
    for seq in range(1, 6):
        await call(http, server, "POST", "/v1/docs/p/ops", json=post(seq, seq - 1, [str(seq)]))
    status, body = await call(http, server, "GET", "/v1/docs/p/ops?limit=2")
    assert status == 200 and body["version"] == 5 and body["has_more"] is True
    assert [e["version"] for e in body["ops"]] == [1, 2]
    entry = body["ops"][0]
    assert (entry["op"], entry["client"], entry["seq"], entry["user"]) == (["1"], "rest-1", 1, None)
    assert isinstance(entry["time"], float)
    status, body = await call(http, server, "GET", "/v1/docs/p/ops?since=2&limit=1000")
    assert [e["version"] for e in body["ops"]] == [3, 4, 5] and body["has_more"] is False
    status, body = await call(http, server, "GET", "/v1/docs/p/ops?since=5")
    assert (status, body["ops"], body["has_more"]) == (200, [], False)


NOT_FOUND = ["/v1/docs/unknown", "/v1/docs/unknown/ops", "/v1/nothing-here"]


@pytest.mark.parametrize("path", NOT_FOUND)
async def test_unknown_documents_and_routes_are_404(server, http, path: str) -> None:
    await assert_error(http, server, 404, "not_found", "GET", path)


BAD_REQUESTS = {
    "doc id starts with a dot": ("GET", "/v1/docs/.hidden", None, "invalid_doc_id"),
    "doc id with a space": ("GET", "/v1/docs/a%20b/ops", None, "invalid_doc_id"),
    "doc id too long": (
        "POST",
        "/v1/docs/" + "x" * 201 + "/ops",
        post(1, 0, ["a"]),
        "invalid_doc_id",
    ),
    "since not a number": ("GET", "/v1/docs/p/ops?since=abc", None, "invalid_field"),
    "since negative": ("GET", "/v1/docs/p/ops?since=-1", None, "invalid_field"),
    "limit above 1000": ("GET", "/v1/docs/p/ops?limit=1001", None, "invalid_field"),
    "client missing": (
        "POST",
        "/v1/docs/p/ops",
        {"seq": 1, "version": 0, "op": ["a"]},
        "invalid_field",
    ),
    "client invalid": ("POST", "/v1/docs/p/ops", post(1, 0, ["a"], client="a b"), "invalid_field"),
    "seq true": ("POST", "/v1/docs/p/ops", post(True, 0, ["a"]), "invalid_field"),
    "version string": ("POST", "/v1/docs/p/ops", post(1, "0", ["a"]), "invalid_field"),
    "op missing": ("POST", "/v1/docs/p/ops", post(1, 0, None), "invalid_field"),
    "op zero": ("POST", "/v1/docs/p/ops", post(1, 0, [0]), "invalid_op"),
    "op float": ("POST", "/v1/docs/p/ops", post(1, 0, [1.5]), "invalid_op"),
    "op nested": ("POST", "/v1/docs/p/ops", post(1, 0, [["a"]]), "invalid_op"),
}


@pytest.mark.parametrize("method, path, body, code", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_bad_requests_are_400(server, http, method, path, body, code) -> None:
    await call(http, server, "POST", "/v1/docs/p/ops", json=post(1, 0, ["ok"], client="setup"))
    await assert_error(http, server, 400, code, method, path, json=body)
    assert (await call(http, server, "GET", "/v1/docs/p"))[1]["version"] == 1  # nothing committed


@pytest.mark.parametrize("data", [b"{nope", b"42", b"[]", b'"op"', b"\xff"])
async def test_a_body_that_is_not_a_json_object_is_malformed(server, http, data: bytes) -> None:
    await assert_error(http, server, 400, "malformed_message", "POST", "/v1/docs/m/ops", data=data)


async def test_conflicts_are_409(server, http) -> None:
    await call(http, server, "POST", "/v1/docs/c/ops", json=post(5, 0, ["abc"]))
    args = ("POST", "/v1/docs/c/ops")
    await assert_error(http, server, 409, "op_mismatch", *args, json=post(6, 0, [1, "x"]))
    await assert_error(http, server, 409, "version_from_future", *args, json=post(6, 2, ["x"]))
    await assert_error(http, server, 409, "seq_out_of_order", *args, json=post(4, 1, ["x"]))
    await assert_error(http, server, 409, "version_from_future", "GET", "/v1/docs/c/ops?since=2")
    status, body = await call(http, server, *args, json=post(6, 1, [3, "!"]))
    assert (status, body["version"]) == (200, 2)


async def test_ops_compacted_away_are_410(start_server, http) -> None:
    server = await start_server(hub=HubSettings(history_limit=2))
    for seq in range(1, 5):
        await call(http, server, "POST", "/v1/docs/h/ops", json=post(seq, seq - 1, ["x"]))
    await server.app[STORE].save_snapshot("h", Snapshot("xxxx", 4))
    await server.app[STORE].compact("h", 4)
    error = await call(http, server, "GET", "/v1/docs/h/ops?since=1")
    assert (error[0], error[1]["error"]["code"], error[1]["error"]["version"]) == (
        410,
        "resync_required",
        4,
    )
    status, body = await call(http, server, "GET", "/v1/docs/h/ops?since=2")  # still in memory
    assert (status, [e["version"] for e in body["ops"]]) == (200, [3, 4])


async def test_too_large_is_413(start_server, http) -> None:
    server = await start_server(limits=Limits(max_op_chars=5, max_doc_chars=8, max_frame_bytes=512))
    args = ("POST", "/v1/docs/big/ops")
    await assert_error(http, server, 413, "op_too_large", *args, json=post(1, 0, ["😀" * 6]))
    assert (await call(http, server, *args, json=post(1, 0, ["😀" * 5])))[0] == 200
    await assert_error(http, server, 413, "doc_too_large", *args, json=post(2, 1, ["1234"]))
    payload = post(2, 1, ["a"]) | {"padding": "x" * 600}
    await assert_error(http, server, 413, "payload_too_large", *args, json=payload)
    assert (await call(http, server, *args, json=post(2, 1, ["123"])))[1]["version"] == 2
