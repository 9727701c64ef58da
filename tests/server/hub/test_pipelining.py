"""Submits in one frame are handled in order, as if each earlier one had already committed: an op
whose base is a version an earlier op of the same batch makes is rebased only past what came
after that base."""

from __future__ import annotations

from typing import Any

from tests.server.rest_log import fetch_document, fetch_ops, replay
from tests.server.wsclient import WsClient


def submit(version: int, seq: int, op: list[Any]) -> dict[str, Any]:
    return {"type": "submit", "doc": "pipe", "version": version, "seq": seq, "op": op}


async def test_ops_based_on_earlier_ops_of_the_same_frame_apply_in_order(
    connect, server, http
) -> None:
    ws: WsClient = await connect("alice")
    await ws.open("pipe")
    await ws.send(submit(0, 1, ["a"]), submit(1, 2, [1, "b"]), submit(2, 3, [2, "😀"]))
    acks = [await ws.expect_type("ack", seq=seq) for seq in (1, 2, 3)]
    assert [a["version"] for a in acks] == [1, 2, 3]
    assert (await fetch_document(http, server.make_url(""), "pipe"))["text"] == "ab😀"


async def test_pipelined_ops_on_a_document_with_history(connect, server, http) -> None:
    alice: WsClient = await connect("alice")
    bob: WsClient = await connect("bob")
    await bob.open("pipe")
    await bob.send(submit(0, 1, ["xyz"]))
    await bob.expect_type("ack")
    assert (await alice.open("pipe"))["text"] == "xyz"
    await alice.send(submit(1, 1, [3, "A"]), submit(2, 2, [3, -1, "B"]))  # type A, retype it B
    assert [(await alice.expect_type("ack", seq=s))["version"] for s in (1, 2)] == [2, 3]
    ops = [await bob.expect_type("op", version=v) for v in (2, 3)]
    assert [o["op"] for o in ops] == [[3, "A"], [3, -1, "B"]]  # nothing to rebase
    text = (await fetch_document(http, server.make_url(""), "pipe"))["text"]
    assert text == "xyzB" == replay(await fetch_ops(http, server.make_url(""), "pipe"))
