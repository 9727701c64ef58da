"""Per-op, per-document and per-connection limits: each breach has its own code, counts Unicode
code points (an emoji is one), refuses only the offending message, and the connection carries on."""

from __future__ import annotations

from typing import Any

from server.config import Limits
from tests.server.hub.errors import provoke
from tests.server.wsclient import WsClient


def submit(version: int, seq: int, op: list[Any], doc: str = "lim") -> dict[str, Any]:
    return {"type": "submit", "doc": doc, "version": version, "seq": seq, "op": op}


async def test_an_op_inserting_more_than_max_op_chars_is_op_too_large(start_server, dial) -> None:
    server = await start_server(limits=Limits(max_op_chars=8))
    ws: WsClient = await dial(server, "alice")
    await ws.open("lim")
    error = await provoke(ws, submit(0, 1, ["x" * 9]), "op_too_large")
    assert (error["doc"], error["seq"]) == ("lim", 1)
    await ws.send(submit(0, 1, ["😀" * 8]))  # 8 code points (16 UTF-16 units, 32 bytes)
    assert (await ws.expect_type("ack", seq=1))["version"] == 1


async def test_a_commit_beyond_max_doc_chars_is_doc_too_large(start_server, dial) -> None:
    server = await start_server(limits=Limits(max_doc_chars=10))
    ws: WsClient = await dial(server, "alice")
    await ws.open("lim")
    await ws.send(submit(0, 1, ["😀" * 6]))
    await ws.expect_type("ack", seq=1)
    error = await provoke(ws, submit(1, 2, [6, "12345"]), "doc_too_large")
    assert (error["doc"], error["seq"]) == ("lim", 2)
    # each of these fits alone; committed together (one frame, one batch) the second does not
    await ws.send(submit(1, 2, [6, "12"]), submit(2, 3, [8, "345"]))
    assert (await ws.expect_type("ack", seq=2))["version"] == 2
    assert (await ws.expect_type("error"))["code"] == "doc_too_large"
    await ws.send(submit(2, 3, [8, "34"]))  # exactly the limit
    assert (await ws.expect_type("ack", seq=3))["version"] == 3
    assert (await ws.open("lim"))["text"] == "😀" * 6 + "1234"


async def test_opening_more_than_max_open_docs_is_too_many_docs(start_server, dial) -> None:
    server = await start_server(limits=Limits(max_open_docs=2))
    ws: WsClient = await dial(server, "alice")
    assert (await ws.open("a"))["type"] == "opened"
    assert (await ws.open("b"))["type"] == "opened"
    error = await ws.open("c")
    assert (error["type"], error["code"]) == ("error", "too_many_docs")
    assert (await ws.open("a"))["type"] == "opened"  # reopening one already open is fine
    await ws.send({"type": "close", "doc": "b"})
    await ws.expect_type("closed", doc="b")
    assert (await ws.open("c"))["type"] == "opened"
    other: WsClient = await dial(server, "bob")  # the limit is per connection
    assert [(await other.open(d))["type"] for d in "bc"] == ["opened", "opened"]
