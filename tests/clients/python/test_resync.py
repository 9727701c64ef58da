"""Resync against a real server: the history since the replica's version was compacted away, so
the replica reopens without a version and merges its pending edit into the resent text, once,
whether or not that edit had been committed before the history went."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from clients.python import CoeditClient, Document
from server.config import HubSettings
from server.storage import Snapshot
from server.web.keys import STORE
from tests.clients.python.conftest import FAST, LiveServer, get_doc

TIMEOUT = 10


async def append(http: aiohttp.ClientSession, url: str, seq: int, version: int, at: int) -> None:
    body = {"client": "rest", "seq": seq, "version": version, "op": [at, "!"]}
    async with http.post(f"{url}/v1/docs/rs/ops", json=body) as response:
        assert response.status == 200, await response.text()


async def make_pending_edit(live: LiveServer, store: Path, *, committed: bool) -> str:
    """Leave " world" in the replica's outbox, in flight: committed by the server but never
    acknowledged, or never delivered (made offline). Returns the replica's client id."""
    async with CoeditClient(live.url, store=store, backoff=FAST) as client:
        doc = await client.open("rs")
        doc.edit(0, 0, "hello")
        async with asyncio.timeout(TIMEOUT):
            await doc.wait_synced()
        if committed:
            await edit_and_lose_the_ack(live, doc)
        else:
            await live.stop()
            async with asyncio.timeout(TIMEOUT):
                await doc.wait_for(lambda: not doc.is_open)
            doc.edit(5, 0, " world")
            await live.start()
        assert doc.pending_count == 1
        return client.client_id


async def edit_and_lose_the_ack(live: LiveServer, doc: Document) -> None:
    async with CoeditClient(live.url, backoff=FAST) as other:
        watcher = await other.open("rs")
        changes = watcher.changes()
        doc._connection.detach("rs")  # test-only: the server's answers no longer reach doc
        doc.edit(5, 0, " world")
        async with asyncio.timeout(TIMEOUT):
            assert (await anext(changes)).text == "hello world"


async def compact(live: LiveServer, http: aiohttp.ClientSession) -> int:
    """Five more ops by someone else, then drop the whole op log behind a snapshot."""
    before = await get_doc(http, live.url, "rs")
    for seq in range(1, 6):  # "!" at the end, each against the same version
        await append(http, live.url, seq, before["version"], len(before["text"]))
    snapshot = await get_doc(http, live.url, "rs")
    store = live.app[STORE]
    await store.save_snapshot("rs", Snapshot(snapshot["text"], snapshot["version"]))
    await store.compact("rs", snapshot["version"])
    return int(snapshot["version"])


@pytest.mark.parametrize(
    ("committed", "restart"),
    [
        pytest.param(False, False, id="offline-edit"),
        pytest.param(True, False, id="lost-ack"),
        pytest.param(True, True, id="lost-ack-server-restarted"),
    ],
)
async def test_resync_merges_the_pending_edit_once(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path, committed: bool, restart: bool
) -> None:
    await live.stop()
    live.settings = replace(live.settings, hub=HubSettings(history_limit=1))
    await live.start()
    store = tmp_path / "replica.db"
    await make_pending_edit(live, store, committed=committed)
    await compact(live, http)
    if restart:
        await live.stop()
        await live.start()

    async with CoeditClient(live.url, store=store, backoff=FAST) as client:
        doc = await client.open("rs")
        changes = doc.changes()
        async with asyncio.timeout(TIMEOUT):
            await doc.wait_synced()
            merge = await anext(changes)
        server = await get_doc(http, live.url, "rs")
    assert merge.client is None  # the resync's merge, not an op of anyone
    assert doc.text == server["text"] == "hello world!!!!!"
