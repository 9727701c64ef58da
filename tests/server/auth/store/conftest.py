"""The auth store contract suite runs on SQLite and on PostgreSQL (in a fresh schema)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.auth.store import AuthStore
from server.auth.store.postgres import PostgresAuthStore
from server.auth.store.sqlite import SqliteAuthStore
from tests.services import POSTGRES_DSN, drop_schema, new_schema


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def auth_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuthStore]:
    store: AuthStore
    schema = None
    if request.param == "sqlite":
        store = SqliteAuthStore(tmp_path / "auth.db", synchronous="NORMAL")
    else:
        schema = await new_schema()
        store = PostgresAuthStore(POSTGRES_DSN, schema=schema)
    await store.open()
    yield store
    await store.close()
    if schema is not None:
        await drop_schema(schema)
