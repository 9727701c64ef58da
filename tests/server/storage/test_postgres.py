"""What only the PostgreSQL adapter promises: many processes on one database, isolated schemas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from server.storage import StorageError
from server.storage.postgres import PostgresStore
from tests.server.storage.test_contract import op_at, versions
from tests.services import POSTGRES_DSN


@pytest.fixture
async def two_stores(pg_schema: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two stores with their own pools on one schema, as two server processes would have."""
    stores = (
        PostgresStore(POSTGRES_DSN, schema=pg_schema),
        PostgresStore(POSTGRES_DSN, schema=pg_schema),
    )
    try:
        await asyncio.gather(*(store.open() for store in stores))
        yield stores
    finally:
        for store in stores:
            await store.close()


@pytest.mark.postgres
async def test_two_processes_racing_on_many_documents_never_lose_or_double_ops(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    docs = [f"doc-{i}" for i in range(8)]

    async def writer(store: PostgresStore, doc: str, client_id: str) -> None:
        known, seq = 0, 0
        while seq < 5:
            known += len(await store.ops_since(doc, known))
            op = op_at(known + 1, client_id=client_id, seq=seq + 1)
            if await store.append(doc, [op]):
                seq += 1

    await asyncio.gather(
        *(
            writer(store, doc, f"{n}-{i}")
            for doc in docs
            for n, store in enumerate(two_stores)
            for i in range(3)
        )
    )
    for doc in docs:
        log = await two_stores[0].ops_since(doc, 0)
        assert versions(log) == list(range(1, 31))
        assert len({(op.client_id, op.seq) for op in log}) == 30


@pytest.mark.postgres
async def test_an_op_row_ahead_of_the_head_makes_only_its_call_lose(pg_schema: str) -> None:
    """The primary key is the backstop if the head and the ops ever disagree."""
    batches: list[int] = []
    store = PostgresStore(POSTGRES_DSN, schema=pg_schema, on_commit_batch=batches.append)
    await store.open()
    try:
        await store.create_document("bad")
        await store.create_document("good")
        conn = await asyncpg.connect(POSTGRES_DSN)
        try:
            await conn.execute(
                f'INSERT INTO "{pg_schema}".ops VALUES ($1, 1, $2, $3, 1, NULL, 0)',
                "bad",
                '["stray"]',
                "intruder",
            )
        finally:
            await conn.close()
        results = await asyncio.gather(
            store.append("bad", [op_at(1)]), store.append("good", [op_at(1)])
        )
        assert list(results) == [False, True]
        assert batches == [2]
        assert [op.client_id for op in await store.ops_since("bad", 0)] == ["intruder"]
        assert versions(await store.ops_since("good", 0)) == [1]
    finally:
        await store.close()


@pytest.mark.postgres
async def test_schemas_are_isolated(pg_schema: str) -> None:
    other = f"{pg_schema}_other"
    first = PostgresStore(POSTGRES_DSN, schema=pg_schema)
    second = PostgresStore(POSTGRES_DSN, schema=other)
    try:
        await first.open()
        await second.open()
        await first.create_document("doc")
        assert not await second.document_exists("doc")
    finally:
        await first.close()
        await second.close()
        conn = await asyncpg.connect(POSTGRES_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{other}" CASCADE')
        finally:
            await conn.close()


@pytest.mark.parametrize("schema", ["", "has space", 'quote"d', "1starts_with_digit", "a" * 64])
def test_schema_must_be_a_plain_identifier(schema: str) -> None:
    with pytest.raises(ValueError, match="schema"):
        PostgresStore(POSTGRES_DSN, schema=schema)


async def test_unreachable_server_raises_storage_error() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/none")
    try:
        with pytest.raises(StorageError, match="could not connect"):
            await store.open()
    finally:
        await store.close()
