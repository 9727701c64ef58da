"""The audit log over REST: every kind of event appears, in order, for owners and admins."""

from __future__ import annotations

from typing import Any

from tests.server.auth.conftest import Join, Rest, submit
from tests.server.auth.tokens import unsigned


async def read_all(rest: Rest, user: str, query: str, limit: int = 2) -> list[dict[str, Any]]:
    """Walk every page with the cursor."""
    entries: list[dict[str, Any]] = []
    cursor = "0"
    while True:
        page = await rest("GET", f"/v1/audit?{query}&cursor={cursor}&limit={limit}", user)
        assert page.status == 200, page.body
        entries += page.body["entries"]
        cursor = page.body["next_cursor"]
        if not page.body["has_more"]:
            return entries


async def test_every_kind_of_event_is_audited_in_order(join: Join, rest: Rest) -> None:
    alice = await join("alice", "a-1")
    await alice.open("ledger")
    await alice.send(submit("ledger", 1, 0, ["a"]), submit("ledger", 2, 1, [1, "b"]))
    await alice.expect_type("ack", seq=2)
    await rest.share("alice", "ledger", bob="viewer")
    bob = await join("bob")
    await bob.open("ledger")
    await bob.send(submit("ledger", 1, 2, [2, "c"]))
    await bob.expect_type("error", seq=1)
    await rest.submit("alice", "ledger", [2, "!"], seq=1, version=2)
    assert (await rest("GET", "/v1/docs/ledger", token=unsigned("alice"))).status == 401

    entries = await read_all(rest, "alice", "doc=ledger")
    summary = [(e["kind"], e["user"], e["detail"].get("version")) for e in entries]
    assert summary == [
        ("doc.opened", "alice", 0),
        ("op.committed", "alice", 1),
        ("op.committed", "alice", 2),
        ("acl.changed", "alice", None),
        ("doc.opened", "bob", 2),
        ("access.denied", "bob", None),
        ("op.committed", "alice", 3),
    ]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    assert all(e["doc"] == "ledger" and e["remote"] == "127.0.0.1" for e in entries)
    changed = entries[3]["detail"]
    assert changed["before"]["users"] == {"alice": "owner"}
    assert changed["after"]["users"] == {"alice": "owner", "bob": "viewer"}
    assert entries[1]["detail"] == {"version": 1, "client": "a-1", "seq": 1, "via": "ws"}
    assert entries[6]["detail"]["via"] == "rest"

    everything = await read_all(rest, "root", "limit=100", limit=100)
    failures = [e for e in everything if e["kind"] == "auth.failed"]
    assert failures and failures[-1]["detail"]["code"] == "unauthorized"
    assert failures[-1]["user"] is None and failures[-1]["remote"] == "127.0.0.1"


async def test_the_entities_engineer_can_record_entity_writes(server, rest: Rest) -> None:
    from server.auth.acl import Resource
    from server.auth.events import AuditKind
    from server.auth.web import ACCESS

    await rest("PUT", "/v1/collections/tasks/acl", "root", json={"users": {"alice": "owner"}})
    server.app[ACCESS].audit.record(
        AuditKind.ENTITY_WRITTEN,
        user="alice",
        remote="10.0.0.7",
        resource=Resource.collection("tasks"),
        entity="t-1",
    )
    entries = await read_all(rest, "alice", "collection=tasks")
    assert [e["kind"] for e in entries] == ["acl.changed", "entity.written"]
    assert entries[1]["collection"] == "tasks" and entries[1]["detail"] == {"entity": "t-1"}


async def test_only_owners_and_admins_read_the_log(join: Join, rest: Rest) -> None:
    alice = await join("alice")
    await alice.open("secret")
    await rest.share("alice", "secret", bob="editor")
    for user, query in [("bob", "doc=secret"), ("mallory", "doc=secret"), ("alice", "")]:
        reply = await rest("GET", f"/v1/audit?{query}", user)
        assert reply.status == 403, (user, query)
    assert (await rest("GET", "/v1/audit?doc=secret", "root")).status == 200
    bad = await rest("GET", "/v1/audit?doc=secret&cursor=abc", "alice")
    assert bad.status == 400 and bad.body["error"]["code"] == "invalid_field"
