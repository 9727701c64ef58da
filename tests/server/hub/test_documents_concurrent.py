"""Documents commit independently and concurrently (their appends share group-commit
transactions), while each document's versions stay strictly consecutive."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from server.config import Settings
from server.storage.sqlite import SqliteStore
from server.web.app import make_app
from tests.server.app_server import AppServer
from tests.server.hub.test_convergence import edit_randomly
from tests.server.replica import Replica
from tests.server.rest_log import fetch_document, fetch_ops, replay
from tests.server.wsclient import WsClient

DOCS = 8


@pytest.fixture
async def batches(settings: Settings) -> AsyncIterator[tuple[TestServer, list[int]]]:
    """A server whose store reports how many appends each transaction committed."""
    sizes: list[int] = []
    store = SqliteStore(settings.data_dir / "coedit.db", on_commit_batch=sizes.append)
    server = AppServer(make_app(settings, store=store))
    await server.start_server()
    yield server, sizes
    await server.close()


async def test_appends_of_different_documents_share_a_transaction(batches, dial) -> None:
    server, sizes = batches
    ws: WsClient = await dial(server, "alice")
    docs = [f"doc-{i}" for i in range(DOCS)]
    for doc in docs:  # the first commit of each also loads the client's last seq
        await ws.open(doc)
        await ws.send({"type": "submit", "doc": doc, "version": 0, "seq": 1, "op": [doc]})
        await ws.expect_type("ack", doc=doc)
    sizes.clear()
    await ws.send(
        *({"type": "submit", "doc": d, "version": 1, "seq": 2, "op": [len(d), "!"]} for d in docs)
    )
    acks = [await ws.expect_type("ack", doc=doc) for doc in docs]
    assert {a["version"] for a in acks} == {2}
    assert sum(sizes) == DOCS
    assert max(sizes) > 1, f"every document committed on its own: {sizes}"


async def test_each_documents_versions_are_consecutive_under_concurrent_load(
    connect, server, http
) -> None:
    rng = random.Random(7)
    replicas = [Replica(f"c{i}", f"multi-{i % DOCS}") for i in range(3 * DOCS)]
    for replica in replicas:
        await replica.attach(await connect(replica.client_id))
    await asyncio.gather(*(edit_randomly(r, random.Random(rng.random()), 6) for r in replicas))
    await asyncio.gather(*(r.synchronized() for r in replicas))
    for i in range(DOCS):
        doc = f"multi-{i}"
        ops = await fetch_ops(http, server.make_url(""), doc)  # checks versions 1..n, no gap
        head = await fetch_document(http, server.make_url(""), doc)
        assert replay(ops) == head["text"]
        mine = [r for r in replicas if r.doc == doc]
        await asyncio.gather(*(r.synchronized(head["version"]) for r in mine))
        assert {r.text for r in mine} == {head["text"]}
        acked = sorted(v for r in mine for v in r.acked.values())
        assert acked == list(range(1, head["version"] + 1))  # one ack per version, no sharing
