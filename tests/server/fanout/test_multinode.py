"""Two server processes' worth of apps share one PostgreSQL op log and fan out over Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from ot import Client, TextOperation
from server.config import Settings
from server.storage.postgres import PostgresStore
from server.web.app import make_app
from tests.server.app_server import AppServer
from tests.server.wsclient import WsClient
from tests.services import POSTGRES_DSN, REDIS_URL, drop_schema, require_postgres, require_redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def nodes(settings: Settings) -> AsyncIterator[list[TestServer]]:
    """Two apps on one PostgreSQL schema and one Redis, each with its own pool and hub."""
    await require_postgres()
    await require_redis()
    schema = f"coedit_test_{uuid.uuid4().hex[:12]}"
    node_settings = replace(settings, redis_url=REDIS_URL)
    servers: list[TestServer] = []
    for _ in range(2):
        store = PostgresStore(POSTGRES_DSN, schema=schema)
        server: TestServer = AppServer(make_app(node_settings, store=store))
        await server.start_server()
        servers.append(server)
    yield servers
    for server in servers:
        await server.close()
    await drop_schema(schema)


class Replica:
    """A document replica that edits through ``ot.Client`` over a real socket."""

    def __init__(self, ws: WsClient, doc: str, opened: dict[str, Any]) -> None:
        self.ws, self.doc = ws, doc
        self.text: str = opened["text"]
        self.client = Client(opened["version"])

    async def edit(self, rnd: random.Random) -> None:
        pos = rnd.randint(0, len(self.text))
        if self.text and rnd.random() < 0.3:
            op = TextOperation.from_edit(pos if pos < len(self.text) else pos - 1, 1, "")
        else:
            op = TextOperation.from_edit(pos, 0, rnd.choice(["a", "b", "😀", "xy"]))
        self.text = op.apply(self.text)
        await self._send(self.client.apply_client(op))

    async def pump(self) -> None:
        """Handle everything received so far."""
        while self.ws.received:
            message = self.ws.received.pop(0)
            if message["type"] == "op" and message["doc"] == self.doc:
                self.text = self.client.apply_server(TextOperation(message["op"])).apply(self.text)
            elif message["type"] == "ack":
                await self._send(self.client.server_ack())
            elif message["type"] == "error":
                raise AssertionError(message)

    async def settle(self, version: int) -> None:
        """Pump until nothing is pending and the replica reached ``version``."""
        async with asyncio.timeout(10):
            while self.client.pending_count or self.client.version < version:
                await self.ws.wait_received()
                await self.pump()

    async def _send(self, submission: Any) -> None:
        if submission is not None:
            await self.ws.send(
                {
                    "type": "submit",
                    "doc": self.doc,
                    "version": submission.base_version,
                    "seq": submission.seq,
                    "op": submission.op.to_json(),
                }
            )


async def test_editors_on_two_nodes_converge(nodes: list[TestServer]) -> None:
    doc = f"shared-{uuid.uuid4().hex[:8]}"
    rnd = random.Random(7)
    async with aiohttp.ClientSession() as http:
        sockets = [
            await WsClient.connect(http, str(node.make_url("/v1/ws")), client_id=name)
            for node, name in zip(nodes, ["alice", "bob"], strict=True)
        ]
        replicas = [Replica(ws, doc, await ws.open(doc)) for ws in sockets]
        rounds = 30
        for _ in range(rounds):
            for replica in replicas:
                await replica.edit(rnd)
                await replica.pump()
        for replica in replicas:
            await replica.settle(0)  # every local edit acknowledged
        heads = []  # each node knows its own commits; the other's arrive by notice
        for node in nodes:
            async with http.get(node.make_url(f"/v1/docs/{doc}")) as response:
                heads.append((await response.json())["version"])
        head = max(heads)
        for replica in replicas:
            await replica.settle(head)
        assert replicas[0].text == replicas[1].text
        for node in nodes:
            async with http.get(node.make_url(f"/v1/docs/{doc}")) as response:
                body = await response.json()
            assert body == {"doc": doc, "version": head, "text": replicas[0].text}
        async with http.get(nodes[1].make_url(f"/v1/docs/{doc}/ops?limit=1000")) as response:
            log = (await response.json())["ops"]
        replayed = ""
        for entry in log:
            replayed = TextOperation(entry["op"]).apply(replayed)
        assert [e["version"] for e in log] == list(range(1, head + 1))
        assert replayed == replicas[0].text
        for ws in sockets:
            await ws.close()


async def test_a_commit_on_one_node_reaches_a_subscriber_on_the_other(
    nodes: list[TestServer],
) -> None:
    doc = f"notice-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as http:
        writer = await WsClient.connect(http, str(nodes[0].make_url("/v1/ws")), client_id="w")
        reader = await WsClient.connect(http, str(nodes[1].make_url("/v1/ws")), client_id="r")
        await writer.open(doc)
        await reader.open(doc)
        for seq in range(1, 4):
            op = {"type": "submit", "doc": doc, "version": seq - 1, "seq": seq, "op": [str(seq)]}
            await writer.send(op)
            await writer.expect_type("ack", seq=seq)
        versions = [(await reader.expect_type("op"))["version"] for _ in range(3)]
        assert versions == [1, 2, 3]
        await writer.close()
        await reader.close()
