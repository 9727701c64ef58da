"""``coedit serve`` as a real process: every acknowledged op survives SIGKILL, clients resume and
converge after a restart, and SIGTERM shuts down gracefully (close 1001, exit status 0)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.server.hub.test_convergence import random_edit
from tests.server.replica import Replica
from tests.server.rest_log import fetch_document, fetch_ops, replay
from tests.server.serve_process import ServeProcess
from tests.server.wsclient import WsClient

CLIENTS = 4
ACKS_BEFORE_KILL = 12  # per client


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[list[ServeProcess]]:
    """Started processes are collected here and killed at teardown, whatever happened."""
    processes: list[ServeProcess] = []
    yield processes
    for process in processes:
        await process.stop()


async def edit_until(replica: Replica, rng: random.Random, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await replica.edit(random_edit(rng, replica.text))
        if replica.closed:
            return
        if rng.random() < 0.5:
            await asyncio.sleep(0)
        else:  # wait for the ack, or for the socket to die
            await replica.wait_until(lambda r: r.client.pending_count == 0 or r.closed)


async def test_acknowledged_ops_survive_sigkill_and_clients_resume(
    serve, tmp_path: Path, http
) -> None:
    data = tmp_path / "data"
    server = await ServeProcess.start(data)
    serve.append(server)
    replicas = [Replica(f"client-{i}", "burst") for i in range(CLIENTS)]
    for replica in replicas:
        await replica.attach(
            await WsClient.connect(http, server.ws_url, client_id=replica.client_id)
        )
    stop = asyncio.Event()
    editors = [
        asyncio.create_task(edit_until(r, random.Random(i), stop)) for i, r in enumerate(replicas)
    ]
    await asyncio.gather(
        *(r.wait_until(lambda r: len(r.acked) >= ACKS_BEFORE_KILL, 30) for r in replicas)
    )
    assert await server.kill() == -9  # mid-burst: every client has an op in flight or on the way
    await asyncio.gather(*(r.wait_until(lambda r: r.closed) for r in replicas))
    stop.set()
    await asyncio.gather(*editors)
    acked = {(r.client_id, seq): version for r in replicas for seq, version in r.acked.items()}
    for replica in replicas:
        await replica.detach()

    server = await ServeProcess.start(data)  # same data directory, new process
    serve.append(server)
    logged = {
        (e["client"], e["seq"]): e["version"] for e in await fetch_ops(http, server.url, "burst")
    }
    missing = {key: v for key, v in acked.items() if logged.get(key) != v}
    assert not missing, f"acknowledged but lost or moved: {missing}"

    for i, replica in enumerate(replicas):  # resume: catch up, resubmit, keep editing
        await replica.attach(
            await WsClient.connect(http, server.ws_url, client_id=replica.client_id)
        )
        rng = random.Random(100 + i)
        for _ in range(3):
            await replica.edit(random_edit(rng, replica.text))
    await asyncio.gather(*(r.synchronized() for r in replicas))
    head = await fetch_document(http, server.url, "burst")
    await asyncio.gather(*(r.synchronized(head["version"]) for r in replicas))
    ops = await fetch_ops(http, server.url, "burst")
    assert [r.text for r in replicas] == [head["text"]] * CLIENTS
    assert replay(ops) == head["text"]
    assert max(Counter((e["client"], e["seq"]) for e in ops).values()) == 1  # exactly once
    for replica in replicas:
        await replica.detach()
    assert await server.terminate() == 0, server.stderr()


async def test_sigterm_closes_sockets_with_1001_and_exits_0(serve, tmp_path: Path, http) -> None:
    data = tmp_path / "data"
    server = await ServeProcess.start(data)
    serve.append(server)
    alice = await WsClient.connect(http, server.ws_url, client_id="alice")
    bob = await WsClient.connect(http, server.ws_url, client_id="bob")
    await alice.open("bye")
    await bob.open("bye")
    await alice.send({"type": "submit", "doc": "bye", "version": 0, "seq": 1, "op": ["kept"]})
    await alice.expect_type("ack", seq=1)

    exit_code = asyncio.create_task(server.terminate())
    assert await alice.wait_closed() == 1001
    assert await bob.wait_closed() == 1001
    assert await exit_code == 0, server.stderr()

    server = await ServeProcess.start(data)
    serve.append(server)
    assert (await fetch_document(http, server.url, "bye"))["text"] == "kept"
    assert await server.terminate() == 0
