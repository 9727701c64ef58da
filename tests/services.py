"""Where the outside services of the test suite live, and how a test asks for one."""

from __future__ import annotations

import os
import uuid

import asyncpg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.conftest import skip_or_fail

POSTGRES_DSN = os.environ.get(
    "COEDIT_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("COEDIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def require_postgres() -> None:
    """Skip (or, in CI, fail) the current test when PostgreSQL does not answer."""
    try:
        conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        skip_or_fail(f"PostgreSQL unreachable at {POSTGRES_DSN}: {exc}")
    else:
        await conn.close()


async def require_redis() -> None:
    """Skip (or, in CI, fail) the current test when Redis does not answer."""
    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, RedisError) as exc:
        skip_or_fail(f"Redis unreachable at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()


async def drop_schema(schema: str) -> None:
    """Drop a test schema and everything in it."""
    conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def new_schema() -> str:
    """A fresh schema name on the test server (skips, or fails in CI, without PostgreSQL)."""
    await require_postgres()
    return f"coedit_test_{uuid.uuid4().hex[:12]}"
