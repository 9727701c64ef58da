"""Fixtures for the storage contract suite: one ``open_store`` factory per adapter.

Every test that takes ``store`` or ``open_store`` runs once on SQLite (in ``tmp_path``) and once on
PostgreSQL (``COEDIT_TEST_POSTGRES_DSN``, in a fresh schema dropped afterwards).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from server.storage.postgres import PostgresStore
from server.storage.sqlite import SqliteStore
from tests.services import POSTGRES_DSN, drop_schema, require_postgres

Store = SqliteStore | PostgresStore
OpenStore = Callable[..., Awaitable[Store]]
"""``await open_store(**options)`` opens a store on the test's database; stores opened one after
the other see the same data (to test reopening). Options go to the adapter's constructor."""


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh schema name on the test server, dropped after the test."""
    await require_postgres()
    schema = f"coedit_test_{uuid.uuid4().hex[:12]}"
    yield schema
    await drop_schema(schema)


def _sqlite_factory(tmp_path: Path) -> Callable[..., Store]:
    path = tmp_path / "data" / "coedit.sqlite3"
    return lambda **options: SqliteStore(path, **options)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStore]:
    """Open stores of one adapter on one database; all of them are closed after the test."""
    schema: str | None = None
    if request.param == "sqlite":
        make = _sqlite_factory(tmp_path)
    else:
        await require_postgres()
        schema = f"coedit_test_{uuid.uuid4().hex[:12]}"
        make = lambda **options: PostgresStore(POSTGRES_DSN, schema=schema, **options)  # noqa: E731
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
    """An open store of the adapter under test, on an empty database."""
    return await open_store()
