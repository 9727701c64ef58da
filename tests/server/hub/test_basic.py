"""Open, submit, ack and rebroadcast over a real WebSocket."""

from __future__ import annotations

from tests.server.wsclient import WsClient


async def test_submit_is_acked_and_rebroadcast(connect) -> None:
    alice: WsClient = await connect("alice")
    bob: WsClient = await connect("bob")
    opened = await alice.open("doc1")
    assert opened == {"type": "opened", "doc": "doc1", "text": "", "version": 0, "presence": []}
    await bob.open("doc1")
    await alice.send({"type": "submit", "doc": "doc1", "version": 0, "seq": 1, "op": ["hi 😀"]})
    ack = await alice.expect_type("ack")
    assert ack == {"type": "ack", "doc": "doc1", "version": 1, "seq": 1}
    op = await bob.expect_type("op")
    assert op["op"] == ["hi 😀"] and op["version"] == 1 and op["client"] == "alice"


async def test_concurrent_inserts_tie_break_and_converge(connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.open("d")
    await bob.open("d")
    await alice.send({"type": "submit", "doc": "d", "version": 0, "seq": 1, "op": ["a"]})
    await alice.expect_type("ack")
    # bob's op is made against version 0 too: it is rebased, and wins the tie as the later commit
    await bob.send({"type": "submit", "doc": "d", "version": 0, "seq": 1, "op": ["b"]})
    ack = await bob.expect_type("ack")
    assert ack["version"] == 2
    rebased = await alice.expect(lambda m: m["type"] == "op" and m["version"] == 2)
    assert rebased["op"] == ["b"]
    fresh = await connect("carol")
    assert (await fresh.open("d"))["text"] == "ba"
