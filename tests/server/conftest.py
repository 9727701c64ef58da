"""Fixtures that start the real coedit application on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.config import Settings
from server.web.app import make_app
from tests.server.app_server import AppServer
from tests.server.wsclient import WsClient

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", sqlite_synchronous="NORMAL", heartbeat_seconds=5)


@pytest.fixture
async def start_server(settings: Settings) -> AsyncIterator[ServerFactory]:
    """Start servers on free ports; ``start_server(**overrides)`` replaces settings fields."""
    servers: list[TestServer] = []

    async def start(**overrides: Any) -> TestServer:
        server = AppServer(make_app(replace(settings, **overrides)))
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


@pytest.fixture
async def server(start_server: ServerFactory) -> TestServer:
    return await start_server()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def connect(
    server: TestServer, http: aiohttp.ClientSession
) -> AsyncIterator[Callable[..., Awaitable[WsClient]]]:
    """Connect a protocol client (handshaken when given a client id)."""
    clients: list[WsClient] = []

    async def make(client_id: str | None = None, **kw: Any) -> WsClient:
        client = await WsClient.connect(
            http, str(server.make_url("/v1/ws")), client_id=client_id, **kw
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
