"""Idempotency-Key on writes: replay, reuse with another payload, in flight, per user, after a
restart, expiry."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp

from server.entities.access import StaticAccess
from tests.server.entities.api import Api, Replica
from tests.server.entities.conftest import Clock, StartEntities

INC = {"title": "t", "count": {"$inc": 1}}


async def changes_count(api: Api) -> int:
    replica = Replica()
    answer = await api.changes(None, limit=1000)
    replica.apply(answer.body["changes"])
    return len(answer.body["changes"])


async def test_a_replay_returns_the_first_answer_and_changes_nothing(api: Api) -> None:
    first = await api.put("tasks", "t1", INC, idempotency_key='"k-1"')
    replay = await api.put("tasks", "t1", INC, idempotency_key='"k-1"')
    assert first.status == replay.status == 201
    assert replay.body == first.body and replay.headers["ETag"] == first.headers["ETag"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (await api.get("tasks", "t1")).body["data"]["count"] == 1
    assert await changes_count(api) == 1


async def test_the_same_key_with_another_payload_is_422(api: Api) -> None:
    await api.put("tasks", "t1", INC, idempotency_key='"k-1"')
    other = await api.put("tasks", "t1", {"title": "other"}, idempotency_key='"k-1"')
    assert other.status == 422 and other.error == "idempotency_key_reused"
    elsewhere = await api.put("tasks", "t2", INC, idempotency_key='"k-1"')
    assert elsewhere.status == 422
    assert (await api.get("tasks", "t1")).body["data"] == {**INC, "count": 1, "balance": 0}
    assert (await api.get("tasks", "t2")).status == 404


async def test_the_same_key_while_the_first_request_runs_is_409(api: Api, data_dir: Path) -> None:
    # Hold SQLite's write lock from outside so the first request waits inside the store.
    blocker = sqlite3.connect(data_dir / "entities.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        requests = [
            asyncio.create_task(api.put("tasks", "t1", INC, idempotency_key='"k-1"'))
            for _ in range(2)
        ]
        done, pending = await asyncio.wait(requests, timeout=4, return_when="FIRST_COMPLETED")
        assert len(done) == 1 and len(pending) == 1
        refused = done.pop().result()
        assert refused.status == 409 and refused.error == "idempotency_key_in_use"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    first = await asyncio.wait_for(pending.pop(), 10)
    assert first.status == 201
    replay = await api.put("tasks", "t1", INC, idempotency_key='"k-1"')
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"


async def test_a_missing_key_where_required_is_400_and_writes_nothing(api: Api) -> None:
    missing = await api.put("strict", "s1", {"a": 1})
    assert missing.status == 400 and missing.error == "idempotency_key_required"
    assert await changes_count(api) == 0
    assert (await api.put("strict", "s1", {"a": 1}, idempotency_key='"k"')).status == 201


async def test_an_invalid_key_is_400(api: Api) -> None:
    for bad in ['""', '"' + "k" * 300 + '"', '"a b"']:
        answer = await api.put("tasks", "t1", INC, idempotency_key=bad)
        assert answer.status == 400 and answer.error == "invalid_idempotency_key"


async def test_keys_are_scoped_to_the_user(
    start_entities: StartEntities, http: aiohttp.ClientSession
) -> None:
    access = StaticAccess(tokens={"ta": "alice", "tb": "bob"}, writers={"tasks": {"*"}})
    server = await start_entities(access=access)
    alice, bob = Api(http, server, token="ta"), Api(http, server, token="tb")
    mine = await alice.put("tasks", "t1", INC, idempotency_key='"shared"')
    theirs = await bob.put("tasks", "t1", INC, idempotency_key='"shared"')
    assert mine.status == 201 and theirs.status == 200  # bob's write ran: no replay of alice's
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.body["data"]["count"] == 2


async def test_a_replay_after_a_server_restart(
    start_entities: StartEntities, http: aiohttp.ClientSession
) -> None:
    first_server = await start_entities()
    first = await Api(http, first_server).put("tasks", "t1", INC, idempotency_key='"k"')
    await first_server.close()
    api = Api(http, await start_entities())
    replay = await api.put("tasks", "t1", INC, idempotency_key='"k"')
    assert replay.status == 201 and replay.body == first.body
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert (await api.get("tasks", "t1")).body["data"]["count"] == 1
    assert await changes_count(api) == 1


async def test_a_key_expires_after_its_time(api: Api, clock: Clock) -> None:
    await api.put("tasks", "t1", INC, idempotency_key='"k"')
    clock.advance(86400 + 1)  # the documented default lifetime is 24 hours
    again = await api.put("tasks", "t1", INC, idempotency_key='"k"')
    assert again.status == 200 and again.body["data"]["count"] == 2
