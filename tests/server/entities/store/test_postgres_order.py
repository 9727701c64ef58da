"""PostgreSQL: a writer that wants sequence numbers while another transaction holds drawn but
uncommitted ones must wait, so no reader ever sees a higher number before a lower one.

The test plays "another server process" with a raw connection that draws number 2 and holds
its transaction open; the store's write must not become visible with number 3 meanwhile. With a
plain SEQUENCE it would, and a reader whose cursor passed 3 would never see 2.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from server.entities.config import Collection
from server.entities.cursor import plan_pull
from server.entities.feed import assemble, feed_ranges
from server.entities.model import Kind, Write
from server.entities.store.base import WriteCall, WriteUnit
from server.entities.store.postgres import PostgresEntityStore
from tests.services import POSTGRES_DSN, drop_schema, require_postgres

pytestmark = pytest.mark.postgres
TASKS = Collection("tasks")


@pytest.fixture
async def pg_store() -> AsyncIterator[tuple[PostgresEntityStore, str]]:
    await require_postgres()
    schema = f"coedit_test_{uuid.uuid4().hex[:12]}"
    store = PostgresEntityStore(POSTGRES_DSN, schema=schema)
    await store.open()
    yield store, schema
    await store.close()
    await drop_schema(schema)


async def waiting_locks(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))


async def test_a_later_writer_waits_for_an_earlier_one_to_commit(
    pg_store: tuple[PostgresEntityStore, str],
) -> None:
    store, schema = pg_store
    put = WriteUnit((WriteCall(Write(Kind.PUT, "tasks", "a", {}), TASKS, None),))
    await store.write(put)  # seq 1
    other = await asyncpg.connect(POSTGRES_DSN)
    observer = await asyncpg.connect(POSTGRES_DSN)
    try:
        transaction = other.transaction()
        await transaction.start()
        drawn = await other.fetchval(
            f'UPDATE "{schema}".entity_state SET head = head + 1 RETURNING head'
        )
        assert drawn == 2
        later = WriteUnit((WriteCall(Write(Kind.PUT, "tasks", "c", {}), TASKS, None),))
        writing = asyncio.create_task(store.write(later))
        async with asyncio.timeout(10):
            # The only sign of the wait is in another session: poll pg_locks.
            while await waiting_locks(observer) == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert not writing.done()
        read = await store.read_feed(
            feed_ranges(plan_pull(None, store.epoch, ["tasks"])), user=None, limit=10
        )
        assert read.head == 1  # neither 2 nor 3 is visible yet
        await other.execute(
            f'INSERT INTO "{schema}".entity_records (collection, id, version, seq, updated_at, '
            "deleted, data, field_versions) VALUES ('tasks', 'b', 1, 2, 0, false, $1::jsonb, "
            "'{}'::jsonb)",
            orjson.dumps({}).decode(),
        )
        await transaction.commit()
        (outcome,) = await asyncio.wait_for(writing, 10)
        assert outcome.seq == 3
    finally:
        await other.close()
        await observer.close()
    plan = plan_pull(None, store.epoch, ["tasks"])
    read = await store.read_feed(feed_ranges(plan), user=None, limit=10)
    page = assemble(plan, read, limit=10, client=None, omit_own=False)
    assert [c["id"] for c in page.changes] == ["a", "b", "c"]
