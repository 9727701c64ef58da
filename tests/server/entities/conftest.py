"""Fixtures for the entities API: a declared set of collections, the real app on a real socket
with a controllable clock and access table, and a small HTTP client."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.config import Settings
from server.entities.access import Access
from server.entities.config import Collection, EntitiesConfig, Policy
from server.entities.web.keys import ENTITY_ACCESS, ENTITY_CLOCK
from server.web.app import make_app
from tests.server.app_server import AppServer
from tests.server.entities.api import Api

TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 200},
        "done": {"type": "boolean"},
        "count": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "balance": {"type": "number"},
        "meta": {"type": "object"},
    },
    "required": ["title"],
}


def collections() -> list[Collection]:
    """The collections every functional test declares."""
    return [
        Collection(
            "tasks",
            schema=TASK_SCHEMA,
            fields={"count": Policy.COUNTER, "tags": Policy.SET, "balance": Policy.SERVER},
            defaults={"balance": 0},
        ),
        Collection("notes", require_precondition=True),
        Collection("strict", require_idempotency_key=True),
        Collection("private", owner_field="owner"),
    ]


class Clock:
    """A settable clock for the server: tests move time forward instead of sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def entities_config() -> EntitiesConfig:
    return EntitiesConfig.of(*collections(), tombstone_retention_seconds=7 * 86400.0)


StartEntities = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def start_entities(
    settings: Settings, entities_config: EntitiesConfig, clock: Clock
) -> AsyncIterator[StartEntities]:
    """``await start_entities(access=None, **settings_overrides)``: the real app on a socket."""
    servers: list[TestServer] = []

    async def start(access: Access | None = None, **overrides: Any) -> TestServer:
        overrides.setdefault("entities", entities_config)
        app = make_app(replace(settings, **overrides))
        app[ENTITY_CLOCK] = clock.__call__
        if access is not None:
            app[ENTITY_ACCESS] = access
        server = AppServer(app)
        await server.start_server()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.close()


@pytest.fixture
async def api(start_entities: StartEntities, http: aiohttp.ClientSession) -> Api:
    server = await start_entities()
    return Api(http, server)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
