"""The client library against a real server: open, edit, follow, presence, status, close."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from clients.python import (
    CoeditClient,
    DocumentClosed,
    PresenceChange,
    RemoteChange,
    Status,
    open_document,
)
from tests.clients.python.conftest import FAST, LiveServer, get_doc

TIMEOUT = 10


async def test_two_clients_converge(live: LiveServer, http: aiohttp.ClientSession) -> None:
    a = await open_document(live.url, "notes", backoff=FAST)
    b = await open_document(live.url, "notes", backoff=FAST)
    changes = b.changes()
    a.edit(0, 0, "hello")
    async with asyncio.timeout(TIMEOUT):
        change = await anext(changes)
    assert change == RemoteChange(change.op, "hello", 1, a._sync.client_id, None)
    b.edit(5, 0, " world")
    a.edit(0, 0, ">")
    async with asyncio.timeout(TIMEOUT):
        await a.wait_synced()
        await b.wait_synced()
        await a.wait_for(lambda: a.version == 3)
        await b.wait_for(lambda: b.version == 3)
    assert a.text == b.text == ">hello world"
    assert (await get_doc(http, live.url, "notes"))["text"] == ">hello world"
    await a.close()
    await b.close()


async def test_replace_sends_the_difference(live: LiveServer, http: aiohttp.ClientSession) -> None:
    doc = await open_document(live.url, "r", backoff=FAST)
    doc.replace("one two three")
    doc.replace("one 2 three!")
    async with asyncio.timeout(TIMEOUT):
        await doc.wait_synced()
    assert (await get_doc(http, live.url, "r"))["text"] == "one 2 three!"
    await doc.close()


async def test_presence_reaches_the_others_and_clears_on_close(live: LiveServer) -> None:
    a = await open_document(live.url, "p", backoff=FAST)
    b = await open_document(live.url, "p", backoff=FAST)
    a.edit(0, 0, "hello world")
    async with asyncio.timeout(TIMEOUT):
        await b.wait_for(lambda: b.text == "hello world")
    events = b.events()
    a.set_presence((6, 11), {"name": "Al"})
    async with asyncio.timeout(TIMEOUT):
        seen = await anext(events)
    client = a._sync.client_id
    assert seen == PresenceChange(client, None, (6, 11), {"name": "Al"})
    assert b.presence[client].cursor == (6, 11)
    await a.close()
    async with asyncio.timeout(TIMEOUT):
        cleared = await anext(events)
    assert cleared == PresenceChange(client, None, None, None)
    await b.close()


async def test_status_and_outbox_depth_follow_the_server(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    client = CoeditClient(live.url, store=tmp_path / "replica.db", backoff=FAST)
    doc = await client.open("s")
    statuses = client.statuses()
    async with asyncio.timeout(TIMEOUT):
        await client.wait_status(Status.ONLINE)
    await live.stop()
    async with asyncio.timeout(TIMEOUT):
        await client.wait_status(Status.OFFLINE)
    doc.edit(0, 0, "written offline")
    doc.edit(0, 0, "> ")
    assert client.outbox_depth == 2 and client.status is Status.OFFLINE
    await live.start()
    async with asyncio.timeout(TIMEOUT):
        await client.wait_status(Status.ONLINE)
    assert client.outbox_depth == 0
    assert (await get_doc(http, live.url, "s"))["text"] == "> written offline"
    seen = []
    async with asyncio.timeout(TIMEOUT):
        async for status in statuses:
            seen.append(status)
            if seen[-2:] == [Status.SYNCING, Status.ONLINE]:
                break
    assert seen[0] is Status.OFFLINE
    await client.close()


async def test_a_known_document_opens_offline_from_the_store(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    store = tmp_path / "replica.db"
    doc = await open_document(live.url, "o", store=store, backoff=FAST)
    doc.edit(0, 0, "saved")
    async with asyncio.timeout(TIMEOUT):
        await doc.wait_synced()
    await doc.close()
    await live.stop()
    doc = await open_document(live.url, "o", store=store, backoff=FAST)
    assert (doc.text, doc.is_open) == ("saved", False)
    doc.edit(5, 0, " and more")
    await live.start()
    async with asyncio.timeout(TIMEOUT):
        await doc.wait_synced()
    assert (await get_doc(http, live.url, "o"))["text"] == "saved and more"
    await doc.close()
    with pytest.raises(DocumentClosed):
        doc.edit(0, 0, "late")


async def test_a_new_document_waits_for_the_server(live: LiveServer) -> None:
    await live.stop()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await open_document(live.url, "never", backoff=FAST)
