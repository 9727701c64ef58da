"""The record-store contract suite runs every test on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from server.entities.store.postgres import PostgresEntityStore
from server.entities.store.sqlite import SqliteEntityStore
from tests.server.entities.conftest import Clock
from tests.services import POSTGRES_DSN, drop_schema, require_postgres

Store = SqliteEntityStore | PostgresEntityStore
OpenStore = Callable[..., Awaitable[Store]]
"""``await open_store(**options)``: a store on the test's database; stores opened one after the
other (or side by side, like two server processes) share the data."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def open_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock
) -> AsyncIterator[OpenStore]:
    schema: str | None = None
    if request.param == "sqlite":
        path = tmp_path / "entities.db"

        def make(**options: Any) -> Store:
            return SqliteEntityStore(path, synchronous="NORMAL", clock=clock, **options)
    else:
        await require_postgres()
        schema = f"coedit_test_{uuid.uuid4().hex[:12]}"

        def make(**options: Any) -> Store:
            return PostgresEntityStore(POSTGRES_DSN, schema=schema, clock=clock, **options)

    opened: list[Store] = []

    async def open_(**options: Any) -> Store:
        store = make(**options)
        opened.append(store)
        await store.open()
        return store

    yield open_
    for store in opened:
        await store.close()
    if schema is not None:
        await drop_schema(schema)


@pytest.fixture
async def store(open_store: OpenStore) -> Store:
    return await open_store()
