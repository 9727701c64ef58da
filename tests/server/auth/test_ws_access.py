"""Authorisation over WebSocket: roles per document, viewers, revocation on an open socket,
and client ids that belong to one user. Each refusal leaves the op log untouched."""

from __future__ import annotations

from typing import Any

from tests.server.auth.conftest import Join, Rest, submit
from tests.server.auth.tokens import mint
from tests.server.wsclient import WsClient


async def write(ws: WsClient, doc: str, seq: int, version: int, op: list[Any]) -> int:
    """Submit an op and return the version its ack names."""
    await ws.send(submit(doc, seq, version, op))
    ack = await ws.expect_type("ack", doc=doc, seq=seq)
    return int(ack["version"])


async def test_the_first_opener_owns_a_new_document_and_others_are_refused(
    join: Join, rest: Rest
) -> None:
    alice, bob = await join("alice"), await join("bob")
    assert (await alice.open("plans"))["type"] == "opened"
    await write(alice, "plans", 1, 0, ["secret"])
    refused = await bob.open("plans")
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert refused["message"] == "you have no access to document 'plans', or it does not exist"
    await bob.send(submit("plans", 1, 1, [6, "!"]))  # not open for bob: nothing reaches the hub
    assert (await bob.expect_type("error", doc="plans"))["code"] == "doc_not_open"
    assert await rest.text("alice", "plans") == (1, "secret")


async def test_a_viewer_may_read_and_show_presence_but_not_submit(join: Join, rest: Rest) -> None:
    alice, bob = await join("alice"), await join("bob")
    await alice.open("memo")
    await write(alice, "memo", 1, 0, ["hello"])
    await rest.share("alice", "memo", bob="viewer")
    opened = await bob.open("memo")
    assert opened["text"] == "hello"
    await bob.send(submit("memo", 1, 1, [5, " world"]))
    error = await bob.expect_type("error", seq=1)
    assert error["code"] == "forbidden" and error["doc"] == "memo"
    assert "viewer" in error["message"]
    await bob.send({"type": "presence", "doc": "memo", "version": 1, "cursor": [2, 2]})
    seen = await alice.expect_type("presence", user="bob")
    assert seen["cursor"] == [2, 2]
    assert await rest.text("alice", "memo") == (1, "hello")


async def test_a_revoked_role_closes_the_document_on_the_open_socket(join: Join, rest: Rest):
    alice, bob = await join("alice"), await join("bob")
    await alice.open("draft")
    await rest.share("alice", "draft", bob="editor")
    await bob.open("draft")
    await write(bob, "draft", 1, 0, ["bob was here"])
    await rest.share("alice", "draft", bob=None)
    revoked = await bob.expect_type("error", doc="draft")
    assert revoked["code"] == "forbidden" and "revoked" in revoked["message"]
    await bob.send(submit("draft", 2, 1, [12, "!"]))
    assert (await bob.expect_type("error", seq=2))["code"] == "doc_not_open"
    assert (await bob.open("draft"))["code"] == "forbidden"
    # alice's own socket still receives ops, and no longer sees bob
    await write(alice, "draft", 1, 1, [12, "."])
    assert await rest.text("alice", "draft") == (2, "bob was here.")


async def test_a_downgrade_to_viewer_refuses_the_next_submit(join: Join, rest: Rest) -> None:
    alice, bob = await join("alice"), await join("bob")
    await alice.open("d")
    await rest.share("alice", "d", bob="editor")
    await bob.open("d")
    await write(bob, "d", 1, 0, ["x"])
    await rest.share("alice", "d", bob="viewer")
    await bob.send(submit("d", 2, 1, [1, "y"]))
    assert (await bob.expect_type("error", seq=2))["code"] == "forbidden"
    assert await rest.text("alice", "d") == (1, "x")
    await rest.share("alice", "d", bob="editor")  # and back: the socket follows at once
    await write(bob, "d", 2, 1, [1, "y"])


async def test_another_users_client_id_and_seq_are_not_acknowledged(join: Join, rest: Rest):
    alice = await join("alice", "laptop-1")
    await alice.open("shared")
    await rest.share("alice", "shared", bob="editor")
    await write(alice, "shared", 1, 0, ["alice's"])
    # bob replays alice's (client id, seq), hoping for her ack, then tries to go on under it
    bob = await join("bob", "laptop-1")
    await bob.open("shared")
    await bob.send(submit("shared", 1, 0, ["alice's"]), submit("shared", 2, 1, [7, " bob"]))
    for seq in (1, 2):
        error = await bob.expect_type("error", seq=seq)
        assert error["code"] == "forbidden" and "another user" in error["message"]
    assert not [m for m in bob.received if m["type"] == "ack"]
    assert await rest.text("alice", "shared") == (1, "alice's")
    await write(alice, "shared", 2, 1, [7, "!"])  # alice's numbering is untouched
    bob_own = await join("bob", "bob-phone")
    await bob_own.open("shared")
    assert await write(bob_own, "shared", 1, 2, [8, "?"]) == 3


async def test_groups_from_the_token_grant_roles(join: Join, rest: Rest) -> None:
    alice = await join("alice")
    await alice.open("team")
    reply = await rest("PATCH", "/v1/docs/team/acl", "alice", json={"groups": {"staff": "editor"}})
    assert reply.status == 200
    carol = await join("carol", token=mint("carol", groups=["staff"]))
    await carol.open("team")
    await write(carol, "team", 1, 0, ["staff note"])
    dave = await join("dave", token=mint("dave", groups=["contractors"]))
    assert (await dave.open("team"))["code"] == "forbidden"


async def test_admins_own_every_document(join: Join, rest: Rest) -> None:
    alice = await join("alice")
    await alice.open("private")
    root = await join("root")
    assert (await root.open("private"))["type"] == "opened"
    await write(root, "private", 1, 0, ["audited"])
    assert (await rest("GET", "/v1/docs/private/acl", "root")).status == 200
