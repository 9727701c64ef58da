"""Two server processes' worth of apps on one auth store (SQLite file or PostgreSQL): a list
changed through one applies to the other's open sockets within the re-check interval."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.auth.store import AuthStore
from server.auth.store.postgres import PostgresAuthStore
from server.auth.web import AUTH_STORE
from server.config import Settings
from server.web.app import make_app
from tests.server.app_server import AppServer
from tests.server.auth.conftest import AUTH, Rest
from tests.server.auth.tokens import mint
from tests.server.wsclient import WsClient
from tests.services import POSTGRES_DSN, drop_schema, new_schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def nodes(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[list[TestServer]]:
    """Two apps; with SQLite they share the data directory's auth.db, else one schema."""
    schema = await new_schema() if request.param == "postgres" else None
    node_settings = replace(settings, auth=replace(AUTH, acl_recheck_seconds=0.2))
    servers: list[TestServer] = []
    for _ in range(2):
        app = make_app(node_settings)
        if schema is not None:
            store: AuthStore = PostgresAuthStore(POSTGRES_DSN, schema=schema)
            app[AUTH_STORE] = store
        server: TestServer = AppServer(app)
        await server.start_server()
        servers.append(server)
    yield servers
    for server in servers:
        await server.close()
    if schema is not None:
        await drop_schema(schema)


async def test_a_revocation_through_one_node_closes_the_document_on_another(
    nodes: list[TestServer], http: aiohttp.ClientSession
) -> None:
    first, second = nodes
    rest = Rest(http, first)
    await rest.submit("alice", "shared", ["text"], seq=1, version=0)
    await rest.share("alice", "shared", bob="viewer")
    bob = await WsClient.connect(http, str(second.make_url("/v1/ws")))
    await bob.send({"type": "hello", "protocol": 1, "client": "b1", "token": mint("bob")})
    await bob.expect_type("welcome")
    assert (await bob.open("shared"))["text"] == "text"

    await rest.share("alice", "shared", bob=None)  # through the first node
    revoked = await bob.expect_type("error", doc="shared")  # on the second, within ~0.2 s
    assert revoked["code"] == "forbidden" and "revoked" in revoked["message"]
    await bob.close()
