"""Two server processes on one PostgreSQL database and one Redis: a write on one node reaches
the other node's subscribers as a hint, and its long polls, through the hub's fan-out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.config import Settings
from server.entities.config import EntitiesConfig
from server.entities.store.postgres import PostgresEntityStore
from server.entities.web.keys import ENTITY_STORE
from server.web.app import make_app
from tests.server.app_server import AppServer
from tests.server.entities.api import Api, Replica
from tests.server.wsclient import WsClient
from tests.services import POSTGRES_DSN, REDIS_URL, drop_schema, require_postgres, require_redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def nodes(
    settings: Settings, entities_config: EntitiesConfig
) -> AsyncIterator[list[TestServer]]:
    await require_postgres()
    await require_redis()
    schema = f"coedit_test_{uuid.uuid4().hex[:12]}"
    node_settings = replace(settings, redis_url=REDIS_URL, entities=entities_config)
    servers: list[TestServer] = []
    for _ in range(2):
        app = make_app(node_settings)
        app[ENTITY_STORE] = PostgresEntityStore(POSTGRES_DSN, schema=schema)
        server: TestServer = AppServer(app)
        await server.start_server()
        servers.append(server)
    yield servers
    for server in servers:
        await server.close()
    await drop_schema(schema)


async def test_a_write_on_one_node_wakes_the_other(
    nodes: list[TestServer], http: aiohttp.ClientSession
) -> None:
    first, second = Api(http, nodes[0]), Api(http, nodes[1])
    client = await WsClient.connect(http, second.url("/v1/ws"), client_id="device-2")
    try:
        await client.send({"type": "subscribe_changes", "collections": ["tasks"]})
        await client.expect_type("subscribed_changes")
        replica = Replica()
        await second.pull(replica)
        poll = asyncio.create_task(second.changes(replica.cursor, wait=30))
        written = await first.put("tasks", "t1", {"title": "from node 1"})
        assert written.status == 201
        hint = await client.expect_type("changed", collection="tasks")
        assert hint["cursor"]
        answer = await asyncio.wait_for(poll, 10)
        assert [c["id"] for c in answer.body["changes"]] == ["t1"]
    finally:
        await client.close()
