"""The local records store: feed pages and batch results, each applied in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.python.entity_store import EntityStore
from clients.python.outbox import Outbox


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EntityStore]:
    outbox = Outbox(tmp_path / "r.db")
    yield EntityStore(outbox.db, "py-test")
    outbox.close()


def record(record_id: str, version: int, data: object = None, **extra: object) -> dict[str, object]:
    return {"collection": "tasks", "id": record_id, "version": version, "data": data, **extra}


def test_pages_apply_with_their_cursor_and_can_be_applied_twice(store: EntityStore) -> None:
    page = [record("a", 1, {"n": 1}), record("b", 2, {"n": 2}), record("a", 3, {"n": 3})]
    assert store.apply_page(page, "c1") == {("tasks", "a"), ("tasks", "b")}
    store.apply_page(page, "c1")
    assert (store.cursor(), store.all("tasks")) == ("c1", {"a": {"n": 3}, "b": {"n": 2}})
    store.apply_page([record("a", 2, {"n": "old"})], "c2")  # never goes back in versions
    assert store.get("tasks", "a") == {"n": 3}


def test_tombstones_and_removals(store: EntityStore) -> None:
    store.apply_page([record("a", 1, {}), record("b", 1, {}), record("c", 1, {})], "c1")
    store.apply_page([record("a", 2, None, deleted=True)], "c2")
    store.apply_page([record("a", 1, {"revived": True})], "c2")  # a replay cannot revive it
    store.apply_page([{"collection": "tasks", "id": "b", "removed": True}], "c3")
    assert store.all("tasks") == {"c": {}}
    store.apply_page([{"collection": "tasks", "removed": True}], "c4")
    assert store.all("tasks") == {}


def test_pending_writes_show_at_once_and_keep_their_keys(store: EntityStore) -> None:
    store.apply_page([record("a", 4, {"n": 1})], "c1")
    first = store.queue("tasks", "a", "patch", {"n": {"$inc": 2}})
    second = store.queue("tasks", "b", "put", {"t": "x"}, if_none_match=True)
    store.queue("tasks", "a", "delete", None, if_match=4)
    assert store.get("tasks", "a") is None and store.get("tasks", "b") == {"t": "x"}
    assert store.depth() == 3
    pending = store.pending()
    assert [w.position for w in pending] == sorted(w.position for w in pending)
    assert pending[0].to_batch_item() == {
        "op": "patch",
        "collection": "tasks",
        "id": "a",
        "data": {"n": {"$inc": 2}},
        "base_version": 4,
        "idempotency_key": first.key,
    }
    assert second.to_batch_item()["if_none_match"] == "*"
    assert pending[2].to_batch_item()["if_match"] == 4
    assert len({w.key for w in pending}) == 3 and first.key.startswith("py-test.")


def test_results_settle_in_one_transaction(store: EntityStore) -> None:
    ok = store.queue("tasks", "a", "put", {"n": 1})
    conflict = store.queue("tasks", "b", "put", {"n": 1}, if_match=9)
    retry = store.queue("tasks", "c", "put", {"n": 1})
    settled = store.settle(
        [
            (ok, {"status": 201, "result": "ok", "record": record("a", 1, {"n": 1})}),
            (
                conflict,
                {
                    "status": 412,
                    "result": "conflict",
                    "current": record("b", 3, {"n": 7}),
                    "error": {"code": "precondition_failed", "message": "version 3, not 9"},
                },
            ),
            (retry, {"status": 409, "result": "error", "error": {"code": "in_use"}}),
        ]
    )
    assert (settled.changed, settled.retry) == ({("tasks", "a"), ("tasks", "b")}, 1)
    assert [(r.write.id, r.code) for r in settled.rejected] == [("b", "precondition_failed")]
    assert [w.id for w in store.pending()] == ["c"]
    assert store.get("tasks", "b") == {"n": 7}  # the server's copy, not the refused write
    assert [r.message for r in store.rejected()] == ["version 3, not 9"]
    store.clear_rejected()
    assert store.rejected() == []


def test_a_failed_transaction_changes_nothing(store: EntityStore) -> None:
    store.apply_page([record("a", 1, {"n": 1})], "c1")
    with pytest.raises(KeyError):
        store.apply_page([record("a", 2, {"n": 2}), {"collection": "tasks"}], "c2")
    assert (store.cursor(), store.get("tasks", "a")) == ("c1", {"n": 1})


def test_reset_forgets_records_but_not_the_outbox(store: EntityStore) -> None:
    store.apply_page([record("a", 1, {"n": 1})], "c1")
    store.queue("tasks", "b", "put", {"n": 2})
    store.reset()
    assert (store.cursor(), store.all("tasks"), store.depth()) == (None, {"b": {"n": 2}}, 1)
