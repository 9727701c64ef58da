"""The auth store contract suite runs on SQLite and on PostgreSQL (in a fresh schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from server.auth.store import AuthStore
from server.auth.store.postgres import PostgresAuthStore
from server.auth.store.sqlite import SqliteAuthStore
from tests.conftest import skip_or_fail

POSTGRES_DSN = os.environ.get(
    "COEDIT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


async def postgres_schema() -> str:
    """A fresh schema name on the test server (skips, or fails in CI, without PostgreSQL)."""
    try:
        conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        skip_or_fail(f"PostgreSQL unreachable at {POSTGRES_DSN}: {exc}")
    await conn.close()
    return f"coedit_auth_test_{uuid.uuid4().hex[:12]}"


async def drop_schema(schema: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def auth_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AuthStore]:
    store: AuthStore
    schema = None
    if request.param == "sqlite":
        store = SqliteAuthStore(tmp_path / "auth.db", synchronous="NORMAL")
    else:
        schema = await postgres_schema()
        store = PostgresAuthStore(POSTGRES_DSN, schema=schema)
    await store.open()
    yield store
    await store.close()
    if schema is not None:
        await drop_schema(schema)
