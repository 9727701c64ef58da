"""Fixtures of the WebSocket and REST conformance suite."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from tests.server.dial import dial
from tests.server.web.raw_client import OpenRaw, RawClient

__all__ = ["dial"]


@pytest.fixture
async def open_raw() -> AsyncIterator[OpenRaw]:
    """``await open_raw(server)``: a connected ``RawClient``, closed at teardown."""
    clients: list[RawClient] = []

    async def open_(server: TestServer) -> RawClient:
        client = RawClient(*await asyncio.open_connection(server.host, server.port))
        clients.append(client)
        return client

    yield open_
    for client in clients:
        await client.close()
