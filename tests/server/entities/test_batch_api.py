"""Outbox upload: ``POST /v1/batch`` with a result per write, all-or-nothing on request, size
limits, and a week of offline writes from two devices merging correctly."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import aiohttp

from server.entities.config import EntitiesConfig
from server.entities.model import Kind, Write
from server.entities.web.keys import ENTITY_SERVICE
from tests.server.entities.api import Api, Replica
from tests.server.entities.conftest import Clock, StartEntities


def put(record_id: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op": "put", "collection": "tasks", "id": record_id, "data": data, **extra}


def patch(record_id: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"op": "patch", "collection": "tasks", "id": record_id, "data": data, **extra}


async def test_each_write_gets_its_own_result_and_failures_block_nothing(api: Api) -> None:
    await api.put("tasks", "t1", {"title": "a"})
    answer = await api.batch(
        [
            put("t2", {"title": "new"}, idempotency_key="w1"),
            put("t1", {"title": "stale"}, if_match=7, idempotency_key="w2"),
            put("t3", {"title": 42}, idempotency_key="w3"),  # permanently invalid
            patch("t1", {"balance": 5}, idempotency_key="w4"),  # a server field
            {"op": "upsert", "collection": "tasks", "id": "t4"},
            put("t4", {"title": "after the failures"}, idempotency_key="w5"),
            {"op": "delete", "collection": "tasks", "id": "t1", "idempotency_key": "w6"},
            put("x", {}, collection="nope"),
        ]
    )
    assert answer.status == 200
    results = answer.body["results"]
    assert [(r["status"], r["result"]) for r in results] == [
        (201, "ok"),
        (412, "conflict"),
        (422, "error"),
        (422, "error"),
        (400, "error"),
        (201, "ok"),
        (200, "ok"),
        (404, "error"),
    ]
    assert results[0]["version"] == 1 and results[0]["record"]["data"]["title"] == "new"
    assert results[1]["current"]["data"]["title"] == "a"
    assert results[2]["error"]["code"] == "schema_violation"
    assert results[3]["error"]["code"] == "server_field"
    assert results[7]["error"]["code"] == "unknown_collection"
    assert (await api.get("tasks", "t1")).status == 404
    assert (await api.get("tasks", "t3")).status == 404


async def test_an_atomic_batch_commits_all_or_nothing(api: Api) -> None:
    writes = [put("a", {"title": "a"}), put("b", {"title": 1}), put("c", {"title": "c"})]
    answer = await api.batch(writes, atomic=True)
    assert [r["status"] for r in answer.body["results"]] == [424, 422, 424]
    assert answer.body["results"][0]["error"]["code"] == "aborted"
    assert (await api.changes(None)).body["changes"] == []
    writes[1] = put("b", {"title": "b"})
    answer = await api.batch(writes, atomic=True)
    assert [r["status"] for r in answer.body["results"]] == [201, 201, 201]


async def test_an_oversized_batch_gets_413_with_the_limits(
    start_entities: StartEntities, http: aiohttp.ClientSession, entities_config: EntitiesConfig
) -> None:
    config = replace(entities_config, max_batch_writes=10, max_body_bytes=4096)
    api = Api(http, await start_entities(entities=config))
    too_many = await api.batch([put(f"t{i}", {"title": "x"}) for i in range(11)])
    assert too_many.status == 413 and too_many.error == "batch_too_large"
    assert too_many.body["error"]["max_writes"] == 10
    assert too_many.body["error"]["max_bytes"] == 4096
    too_big = await api.batch([put("t", {"title": "x" * 5000})])
    assert too_big.status == 413 and too_big.body["error"]["max_bytes"] == 4096
    assert (await api.changes(None)).body["changes"] == []
    assert (await api.batch([put(f"t{i}", {"title": "x"}) for i in range(10)])).status == 200


class Device:
    """An offline device: a local replica and an outbox of writes with idempotency keys."""

    def __init__(self, name: str, api: Api) -> None:
        self.name = name
        self.api = api
        self.replica = Replica()
        self.outbox: list[dict[str, Any]] = []

    def queue(self, write: dict[str, Any]) -> None:
        write["idempotency_key"] = f"{self.name}-{len(self.outbox)}"
        self.outbox.append(write)

    async def upload(self, batch_size: int) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        headers = {"Coedit-Client": self.name}
        for start in range(0, len(self.outbox), batch_size):
            chunk = self.outbox[start : start + batch_size]
            answer = await self.api.batch(chunk, headers=headers)
            assert answer.status == 200, answer.body
            results.extend(answer.body["results"])
        return results


async def test_a_week_offline_10000_writes_merge_correctly(
    start_entities: StartEntities,
    http: aiohttp.ClientSession,
    entities_config: EntitiesConfig,
    clock: Clock,
) -> None:
    config = replace(entities_config, tombstone_retention_seconds=30 * 86400.0)
    server = await start_entities(entities=config)
    api = Api(http, server)
    service = server.app[ENTITY_SERVICE]
    ids = [f"task-{i}" for i in range(100)]
    for record_id in ids:
        await api.put("tasks", record_id, {"title": "start", "count": 0, "tags": []})
    phone, laptop = Device("phone", api), Device("laptop", api)
    for device in (phone, laptop):
        await api.pull(device.replica, limit=1000)

    # A week offline: each device queues 5,000 writes; increments and tag changes are tracked.
    expected_count = dict.fromkeys(ids, 0)
    expected_tags: dict[str, set[str]] = {i: set() for i in ids}
    rng = random.Random(7)
    for device in (phone, laptop):
        for n in range(5000):
            record_id = rng.choice(ids)
            amount = rng.randint(-3, 5)
            tag = f"{device.name}-{rng.randrange(6)}"
            if rng.random() < 0.3:
                tags = {"$remove": [tag]}
                expected_tags[record_id].discard(tag)
            else:
                tags = {"$add": [tag]}
                expected_tags[record_id].add(tag)
            write = patch(
                record_id,
                {"count": {"$inc": amount}, "tags": tags, "title": f"{device.name} {n}"},
                base_version=1,
            )
            expected_count[record_id] += amount
            device.queue(write)
        clock.advance(7 * 86400 / 5000)
    phone.queue(patch(ids[0], {"balance": 1_000_000}))  # a server field: refused, alone

    # Meanwhile the server moves balances (server-authoritative fields).
    for i, record_id in enumerate(ids):
        trusted = Write(Kind.PATCH, "tasks", record_id, {"balance": {"$inc": i}}, trusted=True)
        assert (await service.write(None, trusted)).committed

    phone_results = await phone.upload(batch_size=1000)
    lost_response = phone.outbox[2000:2500]  # the phone never saw this answer: it resends
    resent = await phone.api.batch(lost_response, headers={"Coedit-Client": "phone"})
    laptop_results = await laptop.upload(batch_size=500)

    assert sum(r["result"] == "ok" for r in phone_results + laptop_results) == 10000
    assert phone_results[-1]["error"]["code"] == "server_field"
    assert all(r["replayed"] for r in resent.body["results"])
    assert sum(len(r["conflicts"]) for r in laptop_results if r["result"] == "ok") > 0
    for record_id in ids:
        data = (await api.get("tasks", record_id)).body["data"]
        assert data["count"] == expected_count[record_id]
        assert set(data["tags"]) == expected_tags[record_id]
        assert data["balance"] == ids.index(record_id)  # untouched by either device
    for device in (phone, laptop):
        await api.pull(device.replica, limit=1000)
    assert phone.replica.records == laptop.replica.records
    assert {k[1]: v["data"]["count"] for k, v in phone.replica.records.items()} == expected_count


async def test_batches_replays_and_feed_lag_reach_the_metrics(api: Api) -> None:
    writes = [put(f"t{i}", {"title": "x"}, idempotency_key=f"m{i}") for i in range(3)]
    await api.batch(writes)
    await api.batch(writes)
    await api.changes(None)
    async with api.http.get(api.url("/metrics")) as response:
        text = await response.text()
    assert "coedit_entities_idempotent_replays_total 3.0" in text
    assert "coedit_entities_outbox_batch_records_count 2.0" in text
    assert "coedit_entities_changes_lag_seconds_count 1.0" in text
