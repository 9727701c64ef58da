"""The contract every ``EntityStore`` adapter keeps (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from server.entities.config import Collection, Policy
from server.entities.cursor import Cursor, plan_pull
from server.entities.feed import assemble, feed_ranges
from server.entities.model import Kind, Record, Write
from server.entities.store.base import EntityStore, WriteCall, WriteUnit
from tests.server.entities.conftest import Clock
from tests.server.entities.store.conftest import OpenStore, Store

TASKS = Collection("tasks", fields={"n": Policy.COUNTER})
PRIVATE = Collection("private", owner_field="owner")


def put(record_id: str, data: dict[str, Any], *, key: str | None = None, **kw: Any) -> Write:
    return Write(Kind.PUT, "tasks", record_id, data, key=key, **kw)


async def write(store: EntityStore, *writes: Write, user: str | None = None, atomic=False):
    collection = {"tasks": TASKS, "private": PRIVATE}
    calls = tuple(WriteCall(w, collection[w.collection], user) for w in writes)
    return await store.write(WriteUnit(calls, atomic))


async def pull_all(store: EntityStore, cursor: str | None, *, limit: int = 100, user=None):
    """Page through the feed like a client; returns (changes, next cursor)."""
    changes: list[dict[str, Any]] = []
    while True:
        plan = plan_pull(
            Cursor.decode(cursor) if cursor else None, store.epoch, ["tasks", "private"]
        )
        read = await store.read_feed(feed_ranges(plan), user=user, limit=limit)
        page = assemble(plan, read, limit=limit, client=None, omit_own=False)
        changes.extend(page.changes)
        cursor = page.next_cursor.encode()
        if not page.has_more:
            return changes, cursor


async def test_a_write_is_read_back_with_its_version_and_sequence(store: Store) -> None:
    (first,) = await write(store, put("a", {"title": "x"}))
    (second,) = await write(store, put("a", {"title": "y"}))
    assert first.committed and first.response.status == 201 and first.seq == 1
    assert second.response.status == 200 and second.seq == 2
    record = await store.get("tasks", "a")
    assert record is not None
    assert (record.version, record.seq, record.data) == (2, 2, {"title": "y"})
    assert await store.get("tasks", "missing") is None


async def test_the_feed_keeps_only_the_latest_state_in_commit_order(store: Store) -> None:
    await write(store, put("a", {"v": 1}))
    await write(store, put("b", {"v": 1}))
    await write(store, put("a", {"v": 2}))
    changes, cursor = await pull_all(store, None, limit=1)
    assert [(c["id"], c["data"]) for c in changes] == [("b", {"v": 1}), ("a", {"v": 2})]
    await write(store, Write(Kind.DELETE, "tasks", "b"))
    more, _ = await pull_all(store, cursor)
    assert [(c["id"], c["deleted"], c["data"]) for c in more] == [("b", True, None)]


async def test_an_idempotency_key_replays_after_the_store_is_reopened(
    open_store: OpenStore,
) -> None:
    first = await open_store()
    (created,) = await write(first, put("a", {"n": {"$inc": 1}}, key="k1"), user="alice")
    await first.close()
    second = await open_store()
    (replay,) = await write(second, put("a", {"n": {"$inc": 1}}, key="k1"), user="alice")
    assert replay.replayed and not replay.committed
    assert replay.response == created.response
    (other_user,) = await write(second, put("a", {"n": {"$inc": 1}}, key="k1"), user="bob")
    assert other_user.committed and not other_user.replayed
    (reused,) = await write(second, put("a", {"n": {"$inc": 5}}, key="k1"), user="alice")
    assert reused.response.status == 422
    assert reused.response.body["error"]["code"] == "idempotency_key_reused"
    record = await second.get("tasks", "a")
    assert record is not None and record.data == {"n": 2}


async def test_an_expired_key_is_a_new_request(store: Store, clock: Clock) -> None:
    await write(store, put("a", {"n": {"$inc": 1}}, key="k"))
    clock.advance(86400 + 1)
    (again,) = await write(store, put("a", {"n": {"$inc": 1}}, key="k"))
    assert again.committed
    assert await store.purge(tombstones_before=0, keys_before=clock.now) == 0  # just replaced


async def test_an_atomic_unit_commits_all_or_nothing(store: Store) -> None:
    outcomes = await write(
        store,
        put("a", {"v": 1}),
        put("b", {"v": 1}, if_match=7),
        atomic=True,
    )
    assert [o.response.status for o in outcomes] == [424, 412]
    assert await store.get("tasks", "a") is None
    outcomes = await write(store, put("a", {"v": 1}), put("b", {"v": 1}, if_match=7))
    assert [o.response.status for o in outcomes] == [201, 412]


async def test_later_writes_of_a_unit_see_the_earlier_ones(store: Store) -> None:
    outcomes = await write(
        store, put("a", {"n": {"$inc": 1}}), put("a", {"n": {"$inc": 2}}, if_match=1)
    )
    assert [o.response.status for o in outcomes] == [201, 200]
    record = await store.get("tasks", "a")
    assert record is not None and record.data == {"n": 3} and record.version == 2


async def test_purge_drops_old_tombstones_and_raises_the_purged_mark(
    store: Store, clock: Clock
) -> None:
    await write(store, put("a", {}))
    await write(store, Write(Kind.DELETE, "tasks", "a"))
    _, cursor_after_delete = await pull_all(store, None)
    clock.advance(100)
    await write(store, put("b", {}))
    gone = await store.purge(tombstones_before=clock.now - 50, keys_before=clock.now)
    assert gone == 1
    assert await store.get("tasks", "a") is None
    read = await store.read_feed([], user=None, limit=1)
    assert read.purged == 2 and read.head == 3
    changes, _ = await pull_all(store, cursor_after_delete)  # not older than the mark: fine
    assert [c["id"] for c in changes] == ["b"]


async def test_an_owner_change_leaves_a_removal_for_the_previous_owner(store: Store) -> None:
    owned = Write(Kind.PUT, "private", "p", {"owner": "alice"})
    await write(store, owned, user="alice")
    _, alice_cursor = await pull_all(store, None, user="alice")
    bob_changes, _ = await pull_all(store, None, user="bob")
    assert bob_changes == []
    await write(store, Write(Kind.PATCH, "private", "p", {"owner": "bob"}), user="alice")
    alice_changes, _ = await pull_all(store, alice_cursor, user="alice")
    assert alice_changes == [{"collection": "private", "id": "p", "removed": True}]
    bob_changes, _ = await pull_all(store, None, user="bob")
    assert [c["data"] for c in bob_changes] == [{"owner": "bob"}]


async def _writer(store: EntityStore, rng: random.Random, ids: list[str], writes: int) -> None:
    for _ in range(writes):
        record_id = rng.choice(ids)
        if rng.random() < 0.15:
            await write(store, Write(Kind.DELETE, "tasks", record_id))
        else:
            await write(store, put(record_id, {"v": rng.randrange(10**6), "n": {"$inc": 1}}))
        if rng.random() < 0.3:
            await asyncio.sleep(0)


async def test_a_reader_paging_during_concurrent_writes_misses_nothing(
    open_store: OpenStore,
) -> None:
    """Two store instances (two server processes on PostgreSQL) write concurrently while a
    reader pages through the feed with small pages; at the end the reader's replica must equal
    the stored state exactly, and every page must advance in sequence order."""
    stores = [await open_store(), await open_store()]
    reader = stores[0]
    ids = [f"r{i}" for i in range(40)]
    writers = [
        asyncio.create_task(_writer(stores[i % 2], random.Random(i), ids, 120)) for i in range(6)
    ]
    replica: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    pages = 0

    def apply(changes: list[dict[str, Any]]) -> None:
        for change in changes:
            if change["deleted"]:
                replica.pop(change["id"], None)
            else:
                replica[change["id"]] = change

    while not all(w.done() for w in writers):
        changes, cursor = await _page(reader, cursor, limit=7)
        apply(changes)
        pages += 1
        await asyncio.sleep(0)
    await asyncio.gather(*writers)
    changes, cursor = await pull_all(reader, cursor, limit=7)
    apply(changes)
    expected = {}
    for record_id in ids:
        record = await reader.get("tasks", record_id)
        if record is not None and record.live:
            expected[record_id] = record
    assert pages > 5
    assert set(replica) == set(expected)
    for record_id, record in expected.items():
        assert replica[record_id]["version"] == record.version
        assert replica[record_id]["data"] == record.data


async def _page(store: EntityStore, cursor: str | None, *, limit: int):
    plan = plan_pull(Cursor.decode(cursor) if cursor else None, store.epoch, ["tasks"])
    read = await store.read_feed(feed_ranges(plan), user=None, limit=limit)
    seqs = [row.seq for rows in read.rows for row in rows if isinstance(row, Record)]
    assert seqs == sorted(seqs) and all(s > plan.cursor.seq for s in seqs)
    page = assemble(plan, read, limit=limit, client=None, omit_own=False)
    return page.changes, page.next_cursor.encode()


async def test_units_writing_the_same_records_in_any_order_do_not_deadlock(
    open_store: OpenStore,
) -> None:
    stores = [await open_store(), await open_store()]
    ids = [f"r{i}" for i in range(8)]

    async def unit_writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(15):
            chosen = rng.sample(ids, 5)
            writes = [put(i, {"n": {"$inc": 1}}) for i in chosen]
            outcomes = await write(stores[seed % 2], *writes)
            assert all(o.committed for o in outcomes)

    await asyncio.wait_for(asyncio.gather(*(unit_writer(s) for s in range(6))), 60)
    total = 0
    for record_id in ids:
        record = await stores[0].get("tasks", record_id)
        total += record.data["n"] if record is not None and record.data else 0
    assert total == 6 * 15 * 5  # every increment counted exactly once
