"""Opening a document that is already open on the socket: a reopen replaces the subscription
(nothing is delivered twice); a reopen that fails leaves the document closed, never half open."""

from __future__ import annotations

from tests.server.hub.errors import provoke
from tests.server.wsclient import WsClient


async def test_a_reopen_replaces_the_subscription(connect) -> None:
    alice: WsClient = await connect("alice")
    bob: WsClient = await connect("bob")
    await alice.open("re")
    await bob.open("re")
    await bob.send({"type": "submit", "doc": "re", "version": 0, "seq": 1, "op": ["b"]})
    await alice.expect_type("op", version=1)
    reopened = await alice.open("re", version=0)
    assert [e["version"] for e in reopened["ops"]] == [1]
    await bob.send({"type": "submit", "doc": "re", "version": 1, "seq": 2, "op": [1, "c"]})
    await alice.expect_type("op", version=2)
    await alice.send({"type": "ping", "id": 1})
    await alice.expect_type("pong")
    assert [m for m in alice.received if m["type"] == "op"] == []  # not twice


async def test_a_failed_reopen_leaves_the_document_closed(connect) -> None:
    alice: WsClient = await connect("alice")
    bob: WsClient = await connect("bob")
    await alice.open("re")
    await bob.open("re")
    await provoke(alice, {"type": "open", "doc": "re", "version": 99}, "version_from_future")
    await bob.send({"type": "submit", "doc": "re", "version": 0, "seq": 1, "op": ["b"]})
    await bob.expect_type("ack")
    # alice no longer receives the document's ops, so she must not be able to submit blind
    error = await provoke(
        alice, {"type": "submit", "doc": "re", "version": 0, "seq": 1, "op": ["a"]}, "doc_not_open"
    )
    assert error["seq"] == 1
    assert (await alice.open("re", version=0))["ops"][0]["op"] == ["b"]
    await alice.send({"type": "submit", "doc": "re", "version": 1, "seq": 1, "op": ["a"]})
    assert (await alice.expect_type("ack"))["version"] == 2
