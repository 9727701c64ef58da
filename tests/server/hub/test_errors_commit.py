"""Submissions the commit pipeline refuses: an op that does not fit its base version, a base from
the future, a seq out of order, a base whose history was compacted away. Each error names the
submission, nothing is committed, and the client can carry on as the protocol says."""

from __future__ import annotations

from typing import Any

from server.config import HubSettings
from server.storage import Snapshot
from server.web.keys import STORE
from tests.server.hub.errors import provoke
from tests.server.rest_log import fetch_document
from tests.server.wsclient import WsClient

DOC = "commit"


def submit(version: int, seq: int, op: list[Any], doc: str = DOC) -> dict[str, Any]:
    return {"type": "submit", "doc": doc, "version": version, "seq": seq, "op": op}


async def test_an_op_longer_than_its_base_is_op_mismatch(connect, server, http) -> None:
    ws: WsClient = await connect("alice")
    await ws.open(DOC)
    await ws.send(submit(0, 1, ["hello"]))
    await ws.expect_type("ack", seq=1)
    ops: list[list[Any]] = [[6, "!"], [-6], [2, -4]]
    for op in ops:
        error = await provoke(ws, submit(1, 2, op), "op_mismatch")
        assert (error["doc"], error["seq"]) == (DOC, 2)
    # the same op is fine against a base where the document was long enough
    await ws.send(submit(1, 2, [5, "!"]))
    assert (await ws.expect_type("ack", seq=2))["version"] == 2
    assert (await fetch_document(http, server.make_url(""), DOC))["text"] == "hello!"


async def test_an_op_that_fits_its_base_but_not_the_head_is_rebased_not_refused(connect) -> None:
    alice: WsClient = await connect("alice")
    bob: WsClient = await connect("bob")
    await alice.open(DOC)
    await bob.open(DOC)
    await alice.send(submit(0, 1, ["hello"]))
    await alice.expect_type("ack")
    await alice.send(submit(1, 2, [-5]))
    await alice.expect_type("ack")
    await bob.send(submit(1, 1, [5, "!"]))  # against "hello", now ""
    assert (await bob.expect_type("ack"))["version"] == 3
    reopened = await alice.open(DOC)
    assert reopened["text"] == "!"


async def test_a_base_newer_than_the_document_is_version_from_future(connect) -> None:
    ws: WsClient = await connect("alice")
    await ws.open(DOC)
    error = await provoke(ws, submit(1, 1, ["x"]), "version_from_future")
    assert (error["doc"], error["seq"], error["version"]) == (DOC, 1, 0)
    other: WsClient = await connect("bob")
    error = await provoke(other, {"type": "open", "doc": DOC, "version": 5}, "version_from_future")
    assert (error["doc"], error["version"]) == (DOC, 0)
    await ws.send(submit(0, 1, ["x"]))
    assert (await ws.expect_type("ack"))["version"] == 1
    assert (await other.open(DOC, version=1))["ops"] == []


async def test_a_seq_below_the_last_committed_that_never_committed_is_out_of_order(
    connect,
) -> None:
    ws: WsClient = await connect("alice")
    await ws.open(DOC)
    await ws.send(submit(0, 5, ["a"]))  # seqs need not start at 1, only increase
    assert (await ws.expect_type("ack", seq=5))["version"] == 1
    for seq in (3, 4):
        error = await provoke(ws, submit(1, seq, [1, "b"]), "seq_out_of_order")
        assert (error["doc"], error["seq"]) == (DOC, seq)
    await ws.send(submit(1, 6, [1, "b"]))
    assert (await ws.expect_type("ack", seq=6))["version"] == 2
    await ws.send(submit(0, 5, ["a"]))  # a true repeat is not out of order
    assert (await ws.expect_type("ack", seq=5)).get("duplicate") is True


async def test_a_base_whose_history_was_compacted_is_resync_required(start_server, dial) -> None:
    server = await start_server(hub=HubSettings(history_limit=2))  # memory keeps 2 ops
    alice: WsClient = await dial(server, "alice")
    await alice.open(DOC)
    for version, letter in enumerate("abcde"):
        await alice.send(submit(version, version + 1, [version, letter] if version else [letter]))
        await alice.expect_type("ack", version=version + 1)
    store = server.app[STORE]
    await store.save_snapshot(DOC, Snapshot("abcde", 5))
    await store.compact(DOC, 5)

    bob: WsClient = await dial(server, "bob")
    error = await provoke(bob, {"type": "open", "doc": DOC, "version": 1}, "resync_required")
    assert (error["doc"], error["version"]) == (DOC, 5)
    opened = await bob.open(DOC, version=3)  # still in memory: no resync needed
    assert [e["version"] for e in opened["ops"]] == [4, 5]
    error = await provoke(bob, submit(1, 1, [1, "X"]), "resync_required")
    assert (error["doc"], error["seq"], error["version"]) == (DOC, 1, 5)

    # what the client should do: reopen without a version and rebase on the snapshot
    opened = await bob.open(DOC)
    assert (opened["text"], opened["version"]) == ("abcde", 5)
    await bob.send(submit(5, 1, [1, "X"]))
    assert (await bob.expect_type("ack", seq=1))["version"] == 6
