"""A fixture to connect protocol clients to any server a test started (closed at teardown)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.server.wsclient import WsClient

Dial = Callable[..., Awaitable[WsClient]]


@pytest.fixture
async def dial(http: aiohttp.ClientSession) -> AsyncIterator[Dial]:
    """``await dial(server, "client-id")``: a handshaken client (raw when the id is None)."""
    clients: list[WsClient] = []

    async def make(server: TestServer, client_id: str | None = None, **kw: Any) -> WsClient:
        url = str(server.make_url("/v1/ws"))
        client = await WsClient.connect(http, url, client_id=client_id, **kw)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
