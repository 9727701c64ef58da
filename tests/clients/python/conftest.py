"""Fixtures for the Python client's tests: a real coedit server on a real socket that can be
stopped and started again on the same port with the same data, and REST helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from clients.python import Backoff
from server.config import Settings
from server.entities.config import Collection, EntitiesConfig, Policy
from server.web.app import make_app
from tests.server.app_server import AppServer

FAST = Backoff(initial=0.05, maximum=0.3)

ENTITIES = EntitiesConfig.of(
    Collection("tasks", fields={"count": Policy.COUNTER, "tags": Policy.SET}),
    Collection("notes", require_precondition=True),
)


class LiveServer:
    """A coedit server whose process-local lifetime the test controls."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port: int | None = None
        self._server: TestServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        server = AppServer(make_app(self.settings), port=self.port)
        await server.start_server()
        self.port = server.port
        self._server = server

    @property
    def app(self) -> web.Application:
        assert self._server is not None, "the server is stopped"
        return self._server.app

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    settings = Settings(
        data_dir=tmp_path / "data",
        sqlite_synchronous="NORMAL",
        heartbeat_seconds=5,
        entities=ENTITIES,
    )
    server = LiveServer(settings)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get_doc(http: aiohttp.ClientSession, url: str, doc: str) -> dict[str, Any]:
    async with http.get(f"{url}/v1/docs/{doc}") as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def get_record(
    http: aiohttp.ClientSession, url: str, collection: str, record_id: str
) -> dict[str, Any] | None:
    async with http.get(f"{url}/v1/collections/{collection}/records/{record_id}") as response:
        if response.status == 404:
            return None
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def op_log(http: aiohttp.ClientSession, url: str, doc: str) -> list[dict[str, Any]]:
    """Every committed op of ``doc``, oldest first (pages through the REST catch-up)."""
    ops: list[dict[str, Any]] = []
    while True:
        since = ops[-1]["version"] if ops else 0
        async with http.get(f"{url}/v1/docs/{doc}/ops", params={"since": since}) as response:
            assert response.status == 200, await response.text()
            page = await response.json()
        ops.extend(page["ops"])
        if not page["has_more"]:
            return ops
