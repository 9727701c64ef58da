"""The pure decision for one write: ownership before preconditions, versions, conflicts."""

from __future__ import annotations

from typing import Any

from server.entities.config import Collection, Policy
from server.entities.decide import decide
from server.entities.model import Kind, Record, Write

C = Collection("c", fields={"n": Policy.COUNTER})
P = Collection("p", owner_field="owner")


def record(version: int, data: dict[str, Any], **kw: Any) -> Record:
    return Record("c", "r", version, 1.0, False, data, **kw)


def test_a_stale_if_match_is_412_with_the_current_record() -> None:
    current = record(3, {"a": 1})
    decision = decide(Write(Kind.PUT, "c", "r", {"a": 2}, if_match=2), C, current, None, 2.0)
    assert decision.record is None and decision.response.status == 412
    assert decision.response.body["error"]["current"]["version"] == 3


def test_if_none_match_creates_only() -> None:
    write = Write(Kind.PUT, "c", "r", {"a": 2}, if_none_match=True)
    assert decide(write, C, record(1, {}), None, 2.0).response.status == 412
    assert decide(write, C, None, None, 2.0).response.status == 201
    tombstone = Record("c", "r", 4, 1.0, True, None)
    created = decide(write, C, tombstone, None, 2.0)
    assert created.response.status == 201 and created.record is not None
    assert created.record.version == 5  # versions go on across delete and re-create


def test_conflicts_are_reported_per_field_against_the_base_version() -> None:
    current = record(3, {"a": 1, "n": 5, "b": 0}, field_versions={"a": 3, "n": 2, "b": 1})
    write = Write(Kind.PATCH, "c", "r", {"a": 9, "n": {"$inc": 1}, "b": 2}, base_version=1)
    decision = decide(write, C, current, None, 2.0)
    assert decision.conflicts == 2
    assert decision.response.body["conflicts"] == [
        {"field": "a", "policy": "lww", "resolution": "overwritten"},
        {"field": "n", "policy": "counter", "resolution": "merged"},
    ]
    assert decision.record is not None and decision.record.data == {"a": 9, "n": 6, "b": 2}
    assert decision.record.field_versions == {"a": 4, "n": 4, "b": 4}


def test_a_delete_over_unseen_changes_is_a_reported_conflict() -> None:
    decision = decide(Write(Kind.DELETE, "c", "r", base_version=1), C, record(2, {}), None, 2.0)
    assert decision.response.body["conflicts"][0]["resolution"] == "deleted"


def test_ownership_is_checked_before_preconditions() -> None:
    owned = Record("p", "r", 2, 1.0, False, {"owner": "alice"}, owner="alice")
    decision = decide(Write(Kind.PUT, "p", "r", {}, if_match=1), P, owned, "bob", 2.0)
    assert decision.response.status == 403


def test_a_new_record_belongs_to_its_creator_and_a_transfer_revokes() -> None:
    created = decide(Write(Kind.PUT, "p", "r", {}), P, None, "alice", 2.0)
    assert created.record is not None and created.record.owner == "alice"
    moved = decide(Write(Kind.PATCH, "p", "r", {"owner": "bob"}), P, created.record, "alice", 3.0)
    assert moved.record is not None and moved.record.owner == "bob"
    assert moved.lost_access == "alice"


def test_deleting_a_missing_record_is_not_found() -> None:
    assert decide(Write(Kind.DELETE, "c", "r"), C, None, None, 1.0).response.status == 404
