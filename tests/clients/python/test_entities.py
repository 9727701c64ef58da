"""Record sync against a real server: push, pull on hints, exactly-once replays, conflicts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from clients.python import CoeditClient, EntityEvent, RecordsChanged, Status, WriteRejected
from clients.python.entity_store import EntityStore
from clients.python.notify import Subscription
from clients.python.outbox import Outbox
from tests.clients.python.conftest import FAST, LiveServer, get_record

TIMEOUT = 10


def replica(live: LiveServer, store: Path | str = ":memory:") -> CoeditClient:
    return CoeditClient(live.url, store=store, backoff=FAST)


async def test_a_write_reaches_another_replica_through_a_hint(live: LiveServer) -> None:
    async with replica(live) as a, replica(live) as b:
        await write_and_follow(a, b)


async def write_and_follow(a: CoeditClient, b: CoeditClient) -> None:
    records_a = a.records(["tasks"], poll_seconds=3600)  # no polling: only hints wake a pull
    records_b = b.records(["tasks"], poll_seconds=3600)
    async with asyncio.timeout(TIMEOUT):
        await records_b.wait_synced()
    events = records_b.events()
    records_a.put("tasks", "t1", {"title": "milk", "tags": ["shop"]})
    assert records_a.get("tasks", "t1") == {"title": "milk", "tags": ["shop"]}  # at once
    async with asyncio.timeout(TIMEOUT):
        await records_b.wait_for(lambda: records_b.get("tasks", "t1") is not None)
        event = await anext(events)
    assert event == RecordsChanged(frozenset({("tasks", "t1")}))
    assert records_b.all("tasks") == {"t1": {"title": "milk", "tags": ["shop"]}}
    records_b.patch("tasks", "t1", {"tags": {"$add": ["urgent"]}, "count": {"$inc": 2}})
    async with asyncio.timeout(TIMEOUT):
        await records_a.wait_for(lambda: (records_a.get("tasks", "t1") or {}).get("count") == 2)
    assert records_a.get("tasks", "t1") == {"title": "milk", "tags": ["shop", "urgent"], "count": 2}
    records_a.delete("tasks", "t1")
    async with asyncio.timeout(TIMEOUT):
        await records_b.wait_for(lambda: records_b.get("tasks", "t1") is None)


async def test_pending_writes_count_in_the_status(live: LiveServer, tmp_path: Path) -> None:
    async with replica(live, tmp_path / "r.db") as client:
        await offline_records(live, client)


async def offline_records(live: LiveServer, client: CoeditClient) -> None:
    records = client.records(["tasks"])
    async with asyncio.timeout(TIMEOUT):
        await client.wait_status(Status.ONLINE)
    await live.stop()
    async with asyncio.timeout(TIMEOUT):
        await client.wait_status(Status.OFFLINE)
    for _ in range(3):
        records.patch("tasks", "c", {"count": {"$inc": 1}})
    assert (client.outbox_depth, records.get("tasks", "c")) == (3, {"count": 3})
    await live.start()
    async with asyncio.timeout(TIMEOUT):
        await records.wait_synced()
        await client.wait_status(Status.ONLINE)
    assert client.outbox_depth == 0


async def test_a_batch_pushed_before_a_crash_is_not_applied_twice(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """The process posted its outbox, the server committed it, the process died before it
    recorded the results: the next push repeats the same idempotency keys and changes nothing."""
    path = tmp_path / "r.db"
    outbox = Outbox(path)
    store = EntityStore(outbox.db, outbox.client_id())
    for n in (1, 10, 100):
        store.queue("tasks", "c", "patch", {"count": {"$inc": n}})
    items = [w.to_batch_item() for w in store.pending()]
    async with http.post(f"{live.url}/v1/batch", json={"writes": items}) as response:
        assert response.status == 200
    outbox.close()  # "crash": the results were never settled locally

    async with replica(live, path) as client:
        records = client.records(["tasks"])
        async with asyncio.timeout(TIMEOUT):
            await records.wait_synced()
        assert records.get("tasks", "c") == {"count": 111}
    record = await get_record(http, live.url, "tasks", "c")
    assert record is not None and record["data"] == {"count": 111} and record["version"] == 3


async def test_a_refused_write_is_reported_and_the_server_copy_kept(live: LiveServer) -> None:
    async with replica(live) as a, replica(live) as b:
        await refused_write(a, b)


async def refused_write(a: CoeditClient, b: CoeditClient) -> None:
    records_a, records_b = a.records(["notes"]), b.records(["notes"])
    records_a.put("notes", "n", {"text": "mine"}, if_none_match=True)
    async with asyncio.timeout(TIMEOUT):
        await records_a.wait_synced()
    events = records_b.events()
    records_b.put("notes", "n", {"text": "theirs"}, if_match=7)  # a version b never saw
    async with asyncio.timeout(TIMEOUT):
        await records_b.wait_synced()
        rejected = await first_rejection(events)
    assert (rejected.id, rejected.status, rejected.code) == ("n", 412, "precondition_failed")
    assert records_b.get("notes", "n") == {"text": "mine"}
    assert [r.code for r in records_b.store.rejected()] == ["precondition_failed"]


async def first_rejection(events: Subscription[EntityEvent]) -> WriteRejected:
    async for event in events:
        if isinstance(event, WriteRejected):
            return event
    raise AssertionError("the events ended")
