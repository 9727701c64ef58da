"""The PostgreSQL record store (asyncpg), shared by several server processes.

Why the change sequence is safe here: a plain ``SEQUENCE`` is not, because two transactions can
draw 7 and 8 and commit in the order 8, 7; a reader in between sees 8, moves its cursor past 7
and never sees it. Instead the head of the sequence is one row (``entity_state.head``), and a
write transaction draws its numbers with ``UPDATE entity_state SET head = head + n RETURNING``
as its **last** statement before ``COMMIT``. That row lock is held until the transaction ends,
and PostgreSQL makes a transaction visible before it releases its locks, so the next writer can
only draw numbers after the previous one is visible (or rolled back, leaving a harmless gap).
Sequence order is therefore commit order, across processes. The cost is that commits which
change records are serialized on that row; each process group-commits concurrent writes into one
transaction to pay it once per batch.

Writers of the same record (or idempotency key) are serialized before they read it by
transaction-scoped advisory locks, taken in one sorted order so that batches cannot deadlock.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg

from server.entities.model import Record, Response
from server.entities.store.base import FeedRange, FeedRead, KeyRow, Outcome, Removal, WriteUnit
from server.entities.store.plan import KeyId, RecordKey, plan_group, touched_rows
from server.entities.store.rows import RECORD_COLUMNS, record_from_row, record_to_row
from server.storage import StorageError
from server.storage._group_commit import GroupCommitter

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_VISIBLE = "(owner IS NULL OR owner = $%d)"


class PostgresEntityStore:
    """An ``EntityStore`` in PostgreSQL; tables live in ``schema`` (a plain identifier)."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        key_ttl: float = 86400.0,
        clock: Callable[[], float] = time.time,
        pool_max: int = 10,
        max_batch: int = 256,
    ) -> None:
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(f"schema must be a plain identifier, got {schema!r}")
        self._dsn = dsn
        self._schema = schema
        self._t = _Tables(f'"{schema}"')
        self._key_ttl = key_ttl
        self._clock = clock
        self._pool_max = pool_max
        self._pool: Any = None
        self._epoch = ""
        self._closed = False
        self._units: GroupCommitter[WriteUnit, list[Outcome]] = GroupCommitter(
            self._commit_units, max_batch=max_batch
        )

    @property
    def epoch(self) -> str:
        """The database's identity, fixed at creation."""
        return self._epoch

    async def open(self) -> None:
        """Connect the pool; create the schema and tables if missing."""
        if self._pool is not None:
            return
        with _errors("connect"):
            self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self._pool_max)
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._schema)
                await conn.execute(self._t.schema)
                await conn.execute(
                    f"INSERT INTO {self._t.state} (id, head, purged, epoch) VALUES (1, 0, 0, $1) "
                    "ON CONFLICT (id) DO NOTHING",
                    uuid.uuid4().hex[:16],
                )
                self._epoch = await conn.fetchval(f"SELECT epoch FROM {self._t.state}")

    async def close(self) -> None:
        """Commit queued writes, then close the pool."""
        if self._closed:
            return
        self._closed = True
        await self._units.close()
        if self._pool is not None:
            with _errors("close"):
                await self._pool.close()
            self._pool = None

    async def write(self, unit: WriteUnit) -> list[Outcome]:
        """Decide and commit ``unit`` in the next group transaction."""
        if self._closed:
            raise StorageError("entity store is closed")
        return await self._units.submit(unit)

    async def get(self, collection: str, record_id: str) -> Record | None:
        """The latest state of one record."""
        with _errors("read a record"):
            row = await self._require_pool().fetchrow(
                f"SELECT {RECORD_COLUMNS} FROM {self._t.records} WHERE collection = $1 AND id = $2",
                collection,
                record_id,
            )
        return None if row is None else record_from_row(tuple(row))

    async def list_records(
        self, collection: str, *, after_id: str, limit: int, user: str | None
    ) -> list[Record]:
        """Live readable records after ``after_id``, by id."""
        sql = (
            f"SELECT {RECORD_COLUMNS} FROM {self._t.records} WHERE collection = $1 "
            f'AND id COLLATE "C" > $2 AND NOT deleted AND {_VISIBLE % 3} '
            'ORDER BY id COLLATE "C" LIMIT $4'
        )
        with _errors("list records"):
            rows = await self._require_pool().fetch(sql, collection, after_id, user or "", limit)
        return [record_from_row(tuple(r)) for r in rows]

    async def read_feed(self, ranges: list[FeedRange], *, user: str | None, limit: int) -> FeedRead:
        """The ranges in one REPEATABLE READ transaction (one snapshot)."""
        scope = user or ""
        with _errors("read the changes feed"):
            async with (
                self._require_pool().acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                state = await conn.fetchrow(f"SELECT epoch, head, purged FROM {self._t.state}")
                budget = limit + 1
                rows: list[list[Record | Removal]] = []
                for feed_range in ranges:
                    found = await self._range(conn, feed_range, scope, budget) if budget else []
                    rows.append(found)
                    budget -= len(found)
        return FeedRead(state["epoch"], state["head"], state["purged"], rows)

    async def purge(self, *, tombstones_before: float, keys_before: float) -> int:
        """Drop old tombstones, removals and expired keys; raise the purged mark."""
        t = self._t
        with _errors("purge"):
            async with self._require_pool().acquire() as conn, conn.transaction():
                mark = await conn.fetchval(
                    f"SELECT greatest((SELECT max(seq) FROM {t.records} WHERE deleted AND "
                    f'updated_at < $1), (SELECT max(seq) FROM {t.removals} WHERE "time" < $1))',
                    tombstones_before,
                )
                statuses = [
                    await conn.execute(
                        f"DELETE FROM {t.records} WHERE deleted AND updated_at < $1",
                        tombstones_before,
                    ),
                    await conn.execute(
                        f'DELETE FROM {t.removals} WHERE "time" < $1', tombstones_before
                    ),
                    await conn.execute(f"DELETE FROM {t.keys} WHERE expires_at <= $1", keys_before),
                ]
                if mark is not None:
                    await conn.execute(f"UPDATE {t.state} SET purged = greatest(purged, $1)", mark)
        return sum(int(status.split()[-1]) for status in statuses)

    # -- internals -------------------------------------------------------------------------------

    async def _range(
        self, conn: Any, feed_range: FeedRange, scope: str, budget: int
    ) -> list[Record | Removal]:
        t = self._t
        names = list(feed_range.collections)
        if feed_range.upto is not None:
            rows = await conn.fetch(
                f"SELECT {RECORD_COLUMNS} FROM {t.records} WHERE collection = ANY($1) "
                f"AND seq > $2 AND seq <= $3 AND NOT deleted AND {_VISIBLE % 4} "
                "ORDER BY seq LIMIT $5",
                names,
                feed_range.after,
                feed_range.upto,
                scope,
                budget,
            )
            return [record_from_row(tuple(r)) for r in rows]
        rows = await conn.fetch(
            f"SELECT {RECORD_COLUMNS} FROM {t.records} WHERE collection = ANY($1) "
            f"AND seq > $2 AND {_VISIBLE % 3} ORDER BY seq LIMIT $4",
            names,
            feed_range.after,
            scope,
            budget,
        )
        lost = await conn.fetch(
            f"SELECT collection, id, seq FROM {t.removals} WHERE collection = ANY($1) "
            "AND seq > $2 AND (lost_by = $3 OR (lost_by = '*' AND "
            "(new_owner IS NULL OR new_owner <> $3))) ORDER BY seq LIMIT $4",
            names,
            feed_range.after,
            scope,
            budget,
        )
        merged: list[Record | Removal] = [record_from_row(tuple(r)) for r in rows]
        merged.extend(Removal(r["collection"], r["id"], r["seq"]) for r in lost)
        merged.sort(key=lambda row: row.seq)
        return merged[:budget]

    async def _commit_units(self, units: list[WriteUnit]) -> list[list[Outcome]]:
        now = self._clock()
        with _errors("commit writes"):
            async with self._require_pool().acquire() as conn, conn.transaction():
                record_keys, key_ids = touched_rows(units)
                await self._lock(conn, record_keys, key_ids)
                records = await self._load_records(conn, record_keys)
                keys = await self._load_keys(conn, key_ids)
                plan = plan_group(units, records, keys, now=now, key_ttl=self._key_ttl)
                await conn.executemany(
                    self._t.upsert_key,
                    [
                        (k.scope, k.key, k.fingerprint, k.response.encode(), k.expires_at)
                        for k in plan.keys
                    ],
                )
                if plan.changes:
                    # Drawn after every read and decision: the head row lock, held until COMMIT,
                    # orders commits (see the module docstring).
                    count = len(plan.changes)
                    head = await conn.fetchval(self._t.draw, count)
                    rows, removals = plan.numbered(head - count + 1)
                    await conn.executemany(self._t.upsert_record, [record_to_row(r) for r in rows])
                    await conn.executemany(
                        self._t.insert_removal,
                        [
                            (r.seq, r.collection, r.id, lost, r.owner, r.updated_at)
                            for r, lost in removals
                        ],
                    )
        return plan.outcomes

    async def _lock(self, conn: Any, records: set[RecordKey], keys: set[KeyId]) -> None:
        ids = sorted({_lock_id("r", *k) for k in records} | {_lock_id("k", *k) for k in keys})
        # The subquery's ORDER BY keeps it from being flattened, so locks are taken in order.
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT unnest($1::bigint[]) AS k ORDER BY 1) AS sorted_ids",
            ids,
        )

    async def _load_records(self, conn: Any, keys: set[RecordKey]) -> dict[RecordKey, Record]:
        collections, ids = [k[0] for k in keys], [k[1] for k in keys]
        rows = await conn.fetch(
            f"SELECT {RECORD_COLUMNS} FROM {self._t.records} WHERE (collection, id) IN "
            "(SELECT * FROM unnest($1::text[], $2::text[]))",
            collections,
            ids,
        )
        found = [record_from_row(tuple(r)) for r in rows]
        return {(r.collection, r.id): r for r in found}

    async def _load_keys(self, conn: Any, keys: set[KeyId]) -> dict[KeyId, KeyRow]:
        scopes, names = [k[0] for k in keys], [k[1] for k in keys]
        rows = await conn.fetch(
            f"SELECT scope, key, fingerprint, response, expires_at FROM {self._t.keys} WHERE "
            "(scope, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
            scopes,
            names,
        )
        return {
            (r["scope"], r["key"]): KeyRow(
                r["scope"],
                r["key"],
                r["fingerprint"],
                Response.decode(r["response"]),
                r["expires_at"],
            )
            for r in rows
        }

    def _require_pool(self) -> Any:
        if self._pool is None:
            raise StorageError("entity store is not open; call open() first")
        return self._pool


def _lock_id(kind: str, first: str, second: str) -> int:
    digest = hashlib.blake2b(f"{kind}\x00{first}\x00{second}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _errors(action: str) -> Iterator[None]:
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise StorageError(f"PostgreSQL: could not {action}: {exc}") from exc


class _Tables:
    """Table names and statements qualified by one (quoted) schema."""

    def __init__(self, schema: str) -> None:
        self.records = f"{schema}.entity_records"
        self.removals = f"{schema}.entity_removals"
        self.keys = f"{schema}.entity_keys"
        self.state = f"{schema}.entity_state"
        self.schema = f"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {self.records} (
                collection     text NOT NULL,
                id             text NOT NULL,
                version        bigint NOT NULL,
                seq            bigint NOT NULL,
                updated_at     double precision NOT NULL,
                deleted        boolean NOT NULL,
                data           jsonb,
                field_versions jsonb NOT NULL,
                owner          text,
                client         text,
                PRIMARY KEY (collection, id)
            );
            CREATE UNIQUE INDEX IF NOT EXISTS entity_records_seq ON {self.records} (seq);
            CREATE INDEX IF NOT EXISTS entity_records_collection_seq
                ON {self.records} (collection, seq);
            CREATE TABLE IF NOT EXISTS {self.removals} (
                seq        bigint NOT NULL,
                collection text NOT NULL,
                id         text NOT NULL,
                lost_by    text NOT NULL,
                new_owner  text,
                "time"     double precision NOT NULL
            );
            CREATE INDEX IF NOT EXISTS entity_removals_seq ON {self.removals} (seq);
            CREATE TABLE IF NOT EXISTS {self.keys} (
                scope       text NOT NULL,
                key         text NOT NULL,
                fingerprint text NOT NULL,
                response    bytea NOT NULL,
                expires_at  double precision NOT NULL,
                PRIMARY KEY (scope, key)
            );
            CREATE INDEX IF NOT EXISTS entity_keys_expiry ON {self.keys} (expires_at);
            CREATE TABLE IF NOT EXISTS {self.state} (
                id     int PRIMARY KEY CHECK (id = 1),
                head   bigint NOT NULL,
                purged bigint NOT NULL,
                epoch  text NOT NULL
            );
        """
        self.draw = f"UPDATE {self.state} SET head = head + $1 RETURNING head"
        self.upsert_record = (
            f"INSERT INTO {self.records} ({RECORD_COLUMNS}) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10) "
            "ON CONFLICT (collection, id) DO UPDATE SET version = excluded.version, "
            "seq = excluded.seq, updated_at = excluded.updated_at, deleted = excluded.deleted, "
            "data = excluded.data, field_versions = excluded.field_versions, "
            "owner = excluded.owner, client = excluded.client"
        )
        self.insert_removal = (
            f'INSERT INTO {self.removals} (seq, collection, id, lost_by, new_owner, "time") '
            "VALUES ($1, $2, $3, $4, $5, $6)"
        )
        self.upsert_key = (
            f"INSERT INTO {self.keys} (scope, key, fingerprint, response, expires_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, key) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, response = excluded.response, "
            "expires_at = excluded.expires_at"
        )
