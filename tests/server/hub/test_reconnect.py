"""Exactly-once across reconnects: a client that lost its socket with ops unacknowledged resumes
from the version it knows, takes its own committed ops in the catch-up as acks, resubmits the
rest with their original seq, and nothing is applied twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from ot import TextOperation
from server.config import HubSettings
from tests.server.replica import Replica
from tests.server.rest_log import fetch_document, fetch_ops, replay
from tests.server.wsclient import WsClient


def insert(position: int, text: str) -> TextOperation:
    return TextOperation.from_edit(position, 0, text)


async def converged(http, server, *replicas: Replica) -> list[dict[str, Any]]:
    """Wait until every replica is synchronized at the head; check it against the op log."""
    await asyncio.gather(*(r.synchronized() for r in replicas))
    doc = replicas[0].doc
    head = await fetch_document(http, server.make_url(""), doc)
    await asyncio.gather(*(r.synchronized(head["version"]) for r in replicas))
    ops = await fetch_ops(http, server.make_url(""), doc)
    assert replay(ops) == head["text"]
    assert [r.text for r in replicas] == [head["text"]] * len(replicas)
    pairs = Counter((e["client"], e["seq"]) for e in ops)
    assert max(pairs.values()) == 1, f"an op was applied twice: {pairs.most_common(3)}"
    return ops


async def test_committed_op_whose_ack_was_lost_is_recognised_in_the_catch_up(
    connect, server, http
) -> None:
    observer: WsClient = await connect("observer")
    await observer.open("r1")
    alice, bob = Replica("alice", "r1"), Replica("bob", "r1")
    await alice.attach(await connect("alice"))
    await bob.attach(await connect("bob"))

    await alice.stop_reading()  # its ack will be lost with the socket
    await alice.edit(insert(0, "hello"))  # in flight as seq 1
    await alice.edit(insert(5, " world"))  # waits in the buffer
    assert alice.client.pending_count == 2
    await observer.expect(lambda m: m["type"] == "op" and m["client"] == "alice")
    await alice.detach()
    await bob.edit(insert(0, "😀"))  # alice misses this one too
    await bob.synchronized()

    opened = await alice.attach(await connect("alice"))
    assert [(e["client"], e["seq"]) for e in opened["ops"]] == [("alice", 1), ("bob", 1)]
    assert alice.acked == {1: 1}  # learnt from the catch-up, not from an ack
    ops = await converged(http, server, alice, bob)
    assert [(e["client"], e["seq"]) for e in ops] == [("alice", 1), ("bob", 1), ("alice", 2)]
    assert alice.text == "😀hello world"


async def test_op_that_never_reached_the_server_is_resubmitted_with_its_seq(
    connect, server, http
) -> None:
    alice, bob = Replica("alice", "r2"), Replica("bob", "r2")
    await alice.attach(await connect("alice"))
    await bob.attach(await connect("bob"))
    await alice.edit(insert(0, "ab"))
    await alice.synchronized()
    await alice.detach()
    await alice.edit(insert(1, "X"))  # seq 2: lost with the socket
    await alice.edit(insert(0, "Y"))  # buffered behind it
    await bob.synchronized(1)
    await bob.edit(insert(2, "😀"))
    await bob.synchronized()

    opened = await alice.attach(await connect("alice"))
    assert [(e["client"], e["seq"]) for e in opened["ops"]] == [("bob", 1)]
    ops = await converged(http, server, alice, bob)
    assert [(e["client"], e["seq"]) for e in ops] == [
        ("alice", 1),
        ("bob", 1),
        ("alice", 2),
        ("alice", 3),
    ]
    assert alice.text == "YaXb😀"


async def test_disconnecting_right_after_submitting_commits_each_op_once(
    connect, server, http
) -> None:
    """Whether the op committed before the server saw the socket close or not (a race this test
    does not control), the resumed client ends up with each op applied exactly once."""
    alice, bob = Replica("alice", "r3"), Replica("bob", "r3")
    await alice.attach(await connect("alice"))
    await bob.attach(await connect("bob"))
    for round_ in range(15):
        await alice.edit(insert(0, f"<{round_}>"))
        if round_ % 2:
            await alice.edit(insert(0, "+"))
        await bob.edit(insert(len(bob.text), "😀"))
        await alice.detach()
        await alice.attach(await connect("alice"))
    ops = await converged(http, server, alice, bob)
    assert alice.text.count("😀") == 15
    assert all(alice.text.count(f"<{r}>") == 1 for r in range(15))
    assert len([e for e in ops if e["client"] == "alice"]) == max(alice.acked)


async def test_duplicate_submit_is_acked_with_its_original_version(connect, server, http) -> None:
    alice: WsClient = await connect("alice")
    bob: WsClient = await connect("bob")
    await alice.open("dup")
    await bob.open("dup")
    await alice.send({"type": "submit", "doc": "dup", "version": 0, "seq": 1, "op": ["a"]})
    assert (await alice.expect_type("ack"))["version"] == 1
    await bob.send({"type": "submit", "doc": "dup", "version": 1, "seq": 1, "op": [1, "b"]})
    await bob.expect_type("ack")

    for base in (0, 2):  # a plain repeat, and a resubmission rebased after a catch-up
        await alice.send({"type": "submit", "doc": "dup", "version": base, "seq": 1, "op": ["a"]})
        ack = await alice.expect_type("ack")
        assert ack == {"type": "ack", "doc": "dup", "version": 1, "seq": 1, "duplicate": True}
    await alice.send({"type": "submit", "doc": "dup", "version": 2, "seq": 2, "op": [2, "c"]})
    assert (await alice.expect_type("ack"))["version"] == 3  # the duplicates took no version
    await bob.expect(lambda m: m["type"] == "op" and m["version"] == 3)
    assert [op["version"] for op in bob.received if op["type"] == "op"] == [1]
    assert replay(await fetch_ops(http, server.make_url(""), "dup")) == "abc"


async def test_duplicate_beyond_the_in_memory_history_is_found_in_storage(
    start_server, http
) -> None:
    server = await start_server(hub=HubSettings(history_limit=2))
    alice = await WsClient.connect(http, str(server.make_url("/v1/ws")), client_id="alice")
    await alice.open("old")
    for seq in range(1, 6):
        op = [seq - 1, str(seq)] if seq > 1 else ["1"]
        await alice.send({"type": "submit", "doc": "old", "version": seq - 1, "seq": seq, "op": op})
        await alice.expect_type("ack", seq=seq)
    await alice.send({"type": "submit", "doc": "old", "version": 0, "seq": 2, "op": ["2"]})
    ack = await alice.expect_type("ack", seq=2)
    assert ack["version"] == 2 and ack["duplicate"] is True
    assert (await fetch_document(http, server.make_url(""), "old"))["text"] == "12345"
    await alice.close()
