"""Kill and resume: a client process SIGKILLed with ops in its outbox sends them exactly once
after a restart, and converges with the server."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from clients.python import open_document
from tests.clients.python.conftest import LiveServer, get_doc, get_record, op_log
from tests.clients.python.processes import ReplicaProcess

TIMEOUT = 15


@pytest.fixture
async def replicas() -> AsyncIterator[list[ReplicaProcess]]:
    started: list[ReplicaProcess] = []
    yield started
    for replica in started:
        await replica.kill()


async def start(replicas: list[ReplicaProcess], live: LiveServer, store: Path) -> ReplicaProcess:
    replica = await ReplicaProcess.start(live.url, "k", store)
    replicas.append(replica)
    return replica


async def post_op(
    http: aiohttp.ClientSession, url: str, seq: int, base: int, op: list[object]
) -> None:
    body = {"client": "rest", "seq": seq, "version": base, "op": op}
    async with http.post(f"{url}/v1/docs/k/ops", json=body) as response:
        assert response.status == 200, await response.text()


def assert_exactly_once(ops: list[dict[str, object]]) -> Counter[tuple[object, object]]:
    counts = Counter((entry["client"], entry["seq"]) for entry in ops)
    assert all(n == 1 for n in counts.values()), counts
    return counts


async def test_edits_made_while_the_server_is_down_survive_sigkill(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path, replicas: list[ReplicaProcess]
) -> None:
    store = tmp_path / "replica.db"
    replica = await start(replicas, live, store)
    ready = await replica.read()
    client = ready["client"]
    await replica.edit(0, 0, "base")
    assert (await replica.command("wait_synced"))["version"] == 1

    await live.stop()
    await replica.command("wait_offline")
    await replica.edit(4, 0, " one")  # in flight, seq 2, never delivered
    await replica.edit(8, 0, " two")  # buffered behind it
    state = await replica.edit(0, 0, ">")
    assert (state["text"], state["pending"], state["open"]) == (">base one two", 2, False)
    await replica.kill()

    await live.start()
    await post_op(http, live.url, 1, 1, [4, "!"])  # a concurrent edit while the replica is dead
    replica = await start(replicas, live, store)
    resumed = await replica.read()
    assert (resumed["client"], resumed["text"]) == (client, ">base one two")
    synced = await replica.command("wait_synced")

    server = await get_doc(http, live.url, "k")
    assert synced["text"] == server["text"] == ">base one two!"  # the later submitter wins ties
    counts = assert_exactly_once(await op_log(http, live.url, "k"))
    assert counts == {(client, 1): 1, (client, 2): 1, (client, 3): 1, ("rest", 1): 1}


async def test_an_op_committed_but_not_acknowledged_is_not_sent_again(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path, replicas: list[ReplicaProcess]
) -> None:
    store = tmp_path / "replica.db"
    replica = await start(replicas, live, store)
    client = (await replica.read())["client"]
    watcher = await open_document(live.url, "k")
    committed = watcher.changes()
    await replica.command("deafen")  # the coming ack is never processed
    await replica.edit(0, 0, "once")
    async with asyncio.timeout(TIMEOUT):
        change = await anext(committed)
    assert (change.client, change.text) == (client, "once")
    await replica.kill()  # the outbox still holds "once" in flight, unacknowledged

    await post_op(http, live.url, 1, 1, [4, "!"])
    replica = await start(replicas, live, store)
    resumed = await replica.read()
    assert (resumed["text"], resumed["pending"]) == ("once", 1)
    synced = await replica.command("wait_synced")
    server = await get_doc(http, live.url, "k")
    assert synced["text"] == server["text"] == "once!"
    counts = assert_exactly_once(await op_log(http, live.url, "k"))
    assert counts == {(client, 1): 1, ("rest", 1): 1}
    await watcher.close()


async def test_record_writes_made_offline_survive_sigkill_and_apply_once(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path, replicas: list[ReplicaProcess]
) -> None:
    store = tmp_path / "replica.db"
    replica = await start(replicas, live, store)
    await replica.read()
    await replica.command("increment", id="c", by=1)
    assert (await replica.command("records_synced"))["tasks"] == {"c": {"count": 1}}

    await live.stop()
    await replica.command("wait_offline")
    for by in (10, 100):
        state = await replica.command("increment", id="c", by=by)
    assert (state["tasks"], state["records_pending"]) == ({"c": {"count": 111}}, 2)
    await replica.kill()

    await live.start()
    replica = await start(replicas, live, store)
    resumed = await replica.read()
    assert resumed["records_pending"] == 2
    synced = await replica.command("records_synced")
    assert (synced["tasks"], synced["records_pending"]) == ({"c": {"count": 111}}, 0)
    record = await get_record(http, live.url, "tasks", "c")
    assert record is not None and (record["data"], record["version"]) == ({"count": 111}, 3)
