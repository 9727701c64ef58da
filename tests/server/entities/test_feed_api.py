"""The changes feed over REST: paging under concurrent writes, collection filters, tombstone
retention, long polls, a client's own changes, and access gained and lost."""

from __future__ import annotations

import asyncio
import random

import aiohttp

from server.entities.access import StaticAccess
from tests.server.entities.api import Api, Replica
from tests.server.entities.conftest import Clock, StartEntities


async def test_a_reader_paging_while_writers_write_misses_nothing(api: Api) -> None:
    ids = [f"t{i}" for i in range(30)]

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        for n in range(60):
            record_id = rng.choice(ids)
            if rng.random() < 0.2:
                await api.delete("tasks", record_id)
            else:
                await api.patch("tasks", record_id, {"title": f"{seed}-{n}", "count": {"$inc": 1}})

    writers = [asyncio.create_task(writer(s)) for s in range(4)]
    replica = Replica()
    pages = 0
    while not all(w.done() for w in writers):
        pages += await api.pull(replica, limit=5)
    await asyncio.gather(*writers)
    await api.pull(replica, limit=5)
    final = {}
    for record_id in ids:
        answer = await api.get("tasks", record_id)
        if answer.status == 200:
            final[("tasks", record_id)] = answer.body
    assert pages > 3
    assert {k: (v["version"], v["data"]) for k, v in replica.records.items()} == {
        k: (v["version"], v["data"]) for k, v in final.items()
    }


async def test_applying_the_same_page_twice_is_harmless(api: Api) -> None:
    await api.put("tasks", "a", {"title": "a"})
    await api.delete("tasks", "a")
    await api.put("tasks", "b", {"title": "b"})
    page = (await api.changes(None)).body
    once, twice = Replica(), Replica()
    once.apply(page["changes"])
    twice.apply(page["changes"])
    twice.apply(page["changes"])
    assert once.records == twice.records and list(once.records) == [("tasks", "b")]


async def test_the_collections_filter_and_adding_a_collection_later(api: Api) -> None:
    await api.put("tasks", "t", {"title": "t"})
    await api.put("strict", "s", {"x": 1}, idempotency_key='"k"')
    replica = Replica()
    await api.pull(replica, collections="tasks")
    assert list(replica.records) == [("tasks", "t")]
    await api.pull(replica, collections="tasks,strict")  # strict is new: delivered from the start
    assert set(replica.records) == {("tasks", "t"), ("strict", "s")}
    await api.pull(replica, collections="strict")  # tasks is dropped: a removal for it
    assert set(replica.records) == {("strict", "s")}


async def test_a_cursor_older_than_the_tombstone_retention_gets_410(api: Api, clock: Clock) -> None:
    await api.put("tasks", "a", {"title": "a"})
    old = Replica()
    await api.pull(old)
    await api.delete("tasks", "a")
    clock.advance(8 * 86400)  # retention is 7 days in these tests
    await api.put("tasks", "b", {"title": "b"})  # the purge runs at start and then every minute
    purged = await _purge(api)
    assert purged >= 1
    expired = await api.changes(old.cursor)
    assert expired.status == 410 and expired.error == "cursor_expired"
    assert expired.body["error"]["resync"] is True
    fresh = Replica()
    await api.pull(fresh)  # the documented answer: drop local data, pull without a cursor
    assert list(fresh.records) == [("tasks", "b")]


async def _purge(api: Api) -> int:
    from server.entities.web.keys import ENTITY_SERVICE

    return await api.server.app[ENTITY_SERVICE].purge()


async def test_a_long_poll_returns_as_soon_as_something_changes(api: Api) -> None:
    replica = Replica()
    await api.pull(replica)
    poll = asyncio.create_task(api.changes(replica.cursor, wait=30))
    await asyncio.sleep(0.05)
    assert not poll.done()
    await api.put("tasks", "t", {"title": "now"})
    answer = await asyncio.wait_for(poll, 5)
    assert [c["id"] for c in answer.body["changes"]] == ["t"]


async def test_a_long_poll_with_nothing_new_times_out_empty(api: Api) -> None:
    replica = Replica()
    await api.pull(replica)
    answer = await asyncio.wait_for(api.changes(replica.cursor, wait=0.2), 5)
    assert answer.status == 200 and answer.body["changes"] == []
    assert answer.body["next_cursor"] == replica.cursor


async def test_own_changes_are_marked_or_omitted(api: Api) -> None:
    await api.put("tasks", "mine", {"title": "m"}, coedit_client="phone")
    await api.put("tasks", "theirs", {"title": "t"}, coedit_client="laptop")
    marked = await api.changes(None, headers={"Coedit-Client": "phone"})
    assert [(c["id"], c.get("own", False)) for c in marked.body["changes"]] == [
        ("mine", True),
        ("theirs", False),
    ]
    omitted = await api.changes(None, own="omit", headers={"Coedit-Client": "phone"})
    assert [c["id"] for c in omitted.body["changes"]] == ["theirs"]


async def test_gaining_and_losing_access_to_a_collection(
    start_entities: StartEntities, http: aiohttp.ClientSession
) -> None:
    access = StaticAccess(
        tokens={"ta": "alice", "tb": "bob"},
        writers={"tasks": {"alice"}, "private": {"*"}},
        readers={"tasks": set()},
    )
    server = await start_entities(access=access)
    alice, bob = Api(http, server, token="ta"), Api(http, server, token="tb")
    for i in range(5):
        await alice.put("tasks", f"t{i}", {"title": str(i)})
    replica = Replica()
    await bob.pull(replica)
    assert replica.records == {}
    access.readers["tasks"] = {"bob"}  # bob gains access: his next pull delivers every record
    await bob.pull(replica, limit=2)
    assert len(replica.records) == 5
    access.readers["tasks"] = set()  # and loses it: his next pull removes them
    await bob.pull(replica)
    assert replica.records == {}
    denied = await bob.put("tasks", "x", {"title": "x"})
    assert denied.status == 403 and denied.error == "forbidden"
    stale = await bob.put("tasks", "t0", {"title": "x"}, if_match='"99"')
    assert stale.status == 403  # authorisation is decided before any precondition


async def test_gaining_and_losing_access_to_a_record(
    start_entities: StartEntities, http: aiohttp.ClientSession
) -> None:
    access = StaticAccess(tokens={"ta": "alice", "tb": "bob"}, writers={"private": {"*"}})
    server = await start_entities(access=access)
    alice, bob = Api(http, server, token="ta"), Api(http, server, token="tb")
    await alice.put("private", "p", {"text": "mine"})  # owned by its creator
    alice_replica, bob_replica = Replica(), Replica()
    await alice.pull(alice_replica)
    await bob.pull(bob_replica)
    assert list(alice_replica.records) == [("private", "p")] and bob_replica.records == {}
    assert (await bob.get("private", "p")).status == 404
    assert (await bob.put("private", "p", {"text": "stolen"})).status == 403
    moved = await alice.patch("private", "p", {"owner": "bob"})
    assert moved.status == 200
    await alice.pull(alice_replica)
    await bob.pull(bob_replica)
    assert alice_replica.records == {}
    assert bob_replica.records[("private", "p")]["data"] == {"text": "mine", "owner": "bob"}
