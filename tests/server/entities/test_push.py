"""Push-invalidate: ``subscribe_changes`` on the hub's WebSocket, and Server-Sent Events."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from tests.server.entities.api import Api, Replica
from tests.server.wsclient import WsClient


async def ws_client(api: Api) -> WsClient:
    return await WsClient.connect(api.http, api.url("/v1/ws"), client_id="device-1")


async def test_a_subscriber_gets_coalesced_hints_and_pulls(api: Api) -> None:
    client = await ws_client(api)
    try:
        await client.send({"type": "subscribe_changes", "collections": ["tasks"]})
        reply = await client.expect_type("subscribed_changes")
        assert reply["collections"] == ["tasks"]
        results = await api.batch(
            [
                {"op": "put", "collection": "tasks", "id": f"t{i}", "data": {"title": "x"}}
                for i in range(50)
            ]
        )
        assert results.status == 200
        hint = await client.expect_type("changed", collection="tasks")
        assert set(hint) == {"type", "collection", "cursor"}  # a hint, never the data
        await api.put("strict", "s", {"a": 1}, idempotency_key='"k"')  # not subscribed
        await api.put("tasks", "t-last", {"title": "y"})
        await client.expect_type("changed", collection="tasks")
        await client.send({"type": "ping", "id": 1})  # everything sent before the pong is in
        await client.expect_type("pong", id=1)
        hints = [m for m in client.received if m.get("type") == "changed"]
        assert hints == []  # 51 commits, coalesced into one hint per store batch
        replica = Replica()
        await api.pull(replica, limit=1000)
        assert len(replica.records) == 52
    finally:
        await client.close()


async def test_subscribing_to_an_unknown_collection_is_an_error(api: Api) -> None:
    client = await ws_client(api)
    try:
        await client.send({"type": "subscribe_changes", "collections": ["nope"]})
        error = await client.expect_type("error")
        assert error["code"] == "invalid_field" and "nope" in error["message"]
        await client.send({"type": "subscribe_changes", "collections": "tasks"})
        assert (await client.expect_type("error"))["code"] == "invalid_field"
    finally:
        await client.close()


async def test_server_sent_events_carry_the_same_hints(api: Api) -> None:
    async with api.http.get(
        api.url("/v1/events"), params={"collections": "tasks"}, timeout=aiohttp.ClientTimeout(10)
    ) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        assert (await response.content.readuntil(b"\n\n")).startswith(b": subscribed")
        await api.put("tasks", "t1", {"title": "x"})
        event = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
    lines = event.decode().strip().split("\n")
    assert lines[0] == "event: changed"
    data = orjson.loads(lines[1].removeprefix("data: "))
    assert data["collection"] == "tasks" and data["cursor"]


async def test_events_for_an_unknown_collection_is_404(api: Api) -> None:
    answer = await api.request("GET", "/v1/events", params={"collections": "nope"})
    assert answer.status == 404 and answer.error == "unknown_collection"


async def test_event_streams_end_when_the_server_shuts_down(api: Api) -> None:
    async with api.http.get(api.url("/v1/events")) as response:
        assert (await response.content.readuntil(b"\n\n")).startswith(b": subscribed")
        closing = asyncio.create_task(api.server.close())
        rest = await asyncio.wait_for(response.content.read(), 10)
        await asyncio.wait_for(closing, 10)
    assert b"event:" not in rest
