"""The PostgreSQL store (asyncpg): the op log shared by several server processes.

Knows nothing of the hub. Every table lives in one schema (``schema=``), so tests and tenants can
be isolated; the schema and its tables are created on ``open``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import asyncpg

from server.storage._codec import (
    AppendCall,
    check_limit,
    check_snapshot,
    decode_op,
    prepare_append,
)
from server.storage._group_commit import (
    BatchHook,
    GroupCommitter,
    SnapshotCommitter,
    SnapshotRefusal,
    SnapshotSave,
)
from server.storage.base import CommittedOp, Snapshot, StorageError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

# What asyncpg raises when the server, the network or the pool fails.
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class PostgresStore:
    """A ``DocumentStore`` in PostgreSQL, safe for many server processes writing at once.

    Group commit: concurrent ``append`` calls are queued while a batch commits and the next batch
    commits them all in one transaction. That transaction (1) creates the documents that calls at
    version 1 address, (2) locks the head rows (``documents.version``) of every document in the
    batch with ``SELECT ... ORDER BY doc_id FOR UPDATE`` — one fixed lock order, so batches from
    several processes cannot deadlock — (3) decides each call in Python, in arrival order: it wins
    only if its first version is the head + 1, and (4) inserts the winners' ops and moves the heads,
    with one statement each. A losing call writes nothing and does not disturb the others. The
    primary key on ``ops (doc_id, version)`` is the backstop: if it is ever violated, the calls
    are retried one transaction each and the violating one returns False.

    Unknown documents behave as in ``SqliteStore``: reads return nothing, ``append`` at version 1
    creates the document, ``save_snapshot`` raises ``ValueError``.
    """

    def __init__(
        self,
        dsn: str,
        *,
        pool_min: int = 1,
        pool_max: int = 10,
        schema: str = "public",
        max_batch: int = 1024,
        on_commit_batch: BatchHook | None = None,
    ) -> None:
        """Configure a store on ``dsn`` with tables in ``schema`` (a plain SQL identifier).

        ``on_commit_batch`` is called with the number of appends each transaction committed.
        """
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(
                f"schema must be a plain identifier (letters, digits, _), got {schema!r}"
            )
        self._dsn = dsn
        self._pool_min = pool_min
        self._pool_max = pool_max
        self._schema = schema
        self._sql = _Statements(f'"{schema}"')
        self._pool: Any = None
        self._closed = False
        self._appends: GroupCommitter[AppendCall, bool] = GroupCommitter(
            self._commit_appends, max_batch=max_batch, on_batch=on_commit_batch
        )
        self._snapshots = SnapshotCommitter(self._commit_snapshots)

    async def open(self) -> None:
        """Connect the pool and create the schema and tables if they are missing."""
        if self._closed:
            raise StorageError("PostgreSQL store is closed; open a new one")
        if self._pool is not None:
            return
        with _storage_errors("connect"):
            self._pool = await asyncpg.create_pool(
                self._dsn, min_size=self._pool_min, max_size=self._pool_max
            )
        try:
            with _storage_errors("create the schema"):
                await self._create_schema()
        except BaseException:
            await self._pool.close()
            self._pool = None
            raise

    async def close(self) -> None:
        """Commit every queued append, then close the pool."""
        if self._closed:
            return
        self._closed = True
        await self._appends.close()
        await self._snapshots.close()
        if self._pool is not None:
            with _storage_errors("close"):
                await self._pool.close()
            self._pool = None

    async def create_document(self, doc_id: str) -> bool:
        """Create an empty document (with an empty snapshot at version 0); False if it existed."""
        with _storage_errors("create a document"):
            created = await self._require_pool().fetch(self._sql.create_documents, [doc_id])
        return bool(created)

    async def document_exists(self, doc_id: str) -> bool:
        """True if the document was created (explicitly or by its first append)."""
        return await self._head(doc_id) is not None

    async def load_snapshot(self, doc_id: str) -> Snapshot | None:
        """The newest stored snapshot, or None for an unknown document."""
        with _storage_errors("load a snapshot"):
            row = await self._require_pool().fetchrow(self._sql.load_snapshot, doc_id)
        return None if row is None else Snapshot(bytes(row["text"]).decode(), row["version"])

    async def save_snapshot(
        self, doc_id: str, snapshot: Snapshot, *, compact_to: int | None = None
    ) -> None:
        """Keep ``snapshot`` if it is newer than the stored one (so repeating it is harmless),
        then, with ``compact_to``, drop what ``compact(doc_id, compact_to)`` would.

        ``ValueError`` for an unknown document or a version beyond the log's head (nothing is
        dropped then). Snapshots saved meanwhile share one transaction, on one connection of
        the pool.
        """
        self._require_pool()
        await self._snapshots.save(doc_id, snapshot, compact_to)

    async def ops_since(
        self, doc_id: str, version: int, limit: int | None = None
    ) -> list[CommittedOp]:
        """Committed ops with version above ``version``, ascending, at most ``limit``.

        After compaction the list starts at ``oldest_version() + 1`` whatever ``version`` was.
        """
        check_limit(limit)
        with _storage_errors("read ops"):
            rows = await self._require_pool().fetch(self._sql.ops_since, doc_id, version, limit)
        return [decode_op(*row) for row in rows]

    async def oldest_version(self, doc_id: str) -> int:
        """The base version of the oldest kept op (the head if none is kept; 0 if unknown)."""
        with _storage_errors("read the oldest version"):
            return int(await self._require_pool().fetchval(self._sql.oldest_version, doc_id))

    async def append(self, doc_id: str, ops: Sequence[CommittedOp]) -> bool:
        """Durably append ops whose versions run on from the head; False (nothing written) if not.

        Appending version 1 to an unknown document creates it. ``ValueError`` for an empty call
        or non-consecutive versions.
        """
        call = prepare_append(doc_id, ops)
        self._require_pool()
        return await self._appends.submit(call)

    async def committed_seq(self, doc_id: str, client_id: str, seq: int) -> int | None:
        """The version at which ``client_id`` committed ``seq``, if that op is still kept."""
        with _storage_errors("read a seq"):
            version = await self._require_pool().fetchval(
                self._sql.committed_seq, doc_id, client_id, seq
            )
        return None if version is None else int(version)

    async def last_seq(self, doc_id: str, client_id: str) -> int:
        """The highest seq ``client_id`` committed among the kept ops (0 if none)."""
        with _storage_errors("read a seq"):
            return int(await self._require_pool().fetchval(self._sql.last_seq, doc_id, client_id))

    async def compact(self, doc_id: str, before_version: int) -> None:
        """Drop ops with version <= ``before_version`` that the stored snapshot covers.

        Ops newer than the snapshot are always kept, so history is never lost.
        """
        with _storage_errors("compact"):
            await self._require_pool().execute(self._sql.compact, doc_id, before_version)

    # -- internals ------------------------------------------------------------------------------

    async def _create_schema(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            # Serialize concurrent first starts: CREATE ... IF NOT EXISTS races in the catalog.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._schema)
            await conn.execute(self._sql.schema)

    async def _head(self, doc_id: str) -> int | None:
        with _storage_errors("read a document"):
            head = await self._require_pool().fetchval(self._sql.head, doc_id)
        return None if head is None else int(head)

    async def _commit_snapshots(self, snapshots: list[SnapshotSave]) -> list[SnapshotRefusal]:
        """Keep each snapshot the log's head allows; the refusal of each one it does not. The
        head only grows, so checking it before the upsert is race-free."""
        refusals: list[SnapshotRefusal] = [None] * len(snapshots)
        # In document order, as appends lock heads: two processes' batches lock rows in the
        # same order and cannot deadlock.
        order = sorted(range(len(snapshots)), key=lambda i: snapshots[i].doc_id)
        with _storage_errors("save a snapshot"):
            async with self._connected_pool().acquire() as conn, conn.transaction():
                for index in order:
                    doc_id, snapshot, compact_to = snapshots[index]
                    head = await conn.fetchval(self._sql.head, doc_id)
                    try:
                        check_snapshot(doc_id, snapshot, None if head is None else int(head))
                    except ValueError as refusal:
                        refusals[index] = refusal
                        continue
                    # bytea, not text: PostgreSQL text cannot hold U+0000, which a document may
                    # contain.
                    data = snapshot.text.encode()
                    await conn.execute(self._sql.save_snapshot, doc_id, snapshot.version, data)
                    if compact_to is not None:
                        await conn.execute(self._sql.compact, doc_id, compact_to)
        return refusals

    async def _commit_appends(self, calls: list[AppendCall]) -> list[bool]:
        with _storage_errors("append"):
            try:
                return await self._append_together(calls)
            except asyncpg.UniqueViolationError:
                if len(calls) == 1:
                    return [False]
                return [await self._append_alone(call) for call in calls]

    async def _append_alone(self, call: AppendCall) -> bool:
        try:
            return (await self._append_together([call]))[0]
        except asyncpg.UniqueViolationError:
            return False

    async def _append_together(self, calls: list[AppendCall]) -> list[bool]:
        """Commit ``calls`` in one transaction; the result says which of them won."""
        async with self._connected_pool().acquire() as conn, conn.transaction():
            new_docs = sorted({call.doc_id for call in calls if call.first_version == 1})
            if new_docs:
                await conn.execute(self._sql.create_documents, new_docs)
            rows = await conn.fetch(self._sql.lock_heads, sorted({c.doc_id for c in calls}))
            results, winners = _decide(calls, {row["doc_id"]: row["version"] for row in rows})
            if winners:
                await self._insert(conn, winners)
            return results

    async def _insert(self, conn: Any, winners: list[AppendCall]) -> None:
        columns = list(zip(*(row for call in winners for row in call.rows), strict=True))
        await conn.execute(self._sql.insert_ops, *columns)
        await conn.execute(self._sql.upsert_seqs, columns[0], columns[3], columns[4])
        heads = {call.doc_id: call.last_version for call in winners}  # the last call per doc
        await conn.execute(self._sql.move_heads, list(heads), list(heads.values()))

    def _require_pool(self) -> Any:
        """The pool, for a caller: refused once ``close`` began."""
        if self._closed:
            raise StorageError("PostgreSQL store is closed; open a new one")
        return self._connected_pool()

    def _connected_pool(self) -> Any:
        """The pool, for internal work: ``close`` drains queued appends through it."""
        if self._pool is None:
            raise StorageError("PostgreSQL store is not open; call open() first")
        return self._pool


def _decide(calls: list[AppendCall], heads: dict[str, int]) -> tuple[list[bool], list[AppendCall]]:
    """Which calls win, in arrival order, given the locked heads (absent: unknown document)."""
    heads = dict(heads)
    results: list[bool] = []
    winners: list[AppendCall] = []
    for call in calls:
        head = heads.get(call.doc_id)
        won = head is not None and call.first_version == head + 1
        results.append(won)
        if won:
            winners.append(call)
            heads[call.doc_id] = call.last_version
    return results, winners


@contextmanager
def _storage_errors(action: str) -> Iterator[None]:
    """Map driver and network errors to StorageError, naming what the store was doing."""
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise StorageError(f"PostgreSQL: could not {action}: {exc}") from exc


class _Statements:
    """The SQL of one store, with every table qualified by its (already quoted) schema."""

    def __init__(self, schema: str) -> None:
        documents, ops, snapshots = f"{schema}.documents", f"{schema}.ops", f"{schema}.snapshots"
        client_seqs = f"{schema}.client_seqs"
        # documents.version is the head of the log. It is kept apart from the ops because
        # compaction may delete every op, and the next append must still start at head + 1;
        # it is also the row a batch locks to serialize appends to one document.
        self.schema = f"""
            CREATE SCHEMA IF NOT EXISTS {schema};
            CREATE TABLE IF NOT EXISTS {documents} (
                doc_id     text PRIMARY KEY,
                created_at timestamptz NOT NULL DEFAULT now(),
                version    bigint NOT NULL DEFAULT 0
            );
            CREATE TABLE IF NOT EXISTS {ops} (
                doc_id    text NOT NULL,
                version   bigint NOT NULL,
                op        text NOT NULL,
                client_id text NOT NULL,
                seq       bigint NOT NULL,
                "user"    text,
                "time"    double precision NOT NULL,
                PRIMARY KEY (doc_id, version)
            );
            CREATE INDEX IF NOT EXISTS ops_client_seq ON {ops} (doc_id, client_id, seq);
            CREATE TABLE IF NOT EXISTS {client_seqs} (
                doc_id    text NOT NULL,
                client_id text NOT NULL,
                seq       bigint NOT NULL,
                PRIMARY KEY (doc_id, client_id)
            );
            CREATE TABLE IF NOT EXISTS {snapshots} (
                doc_id  text PRIMARY KEY,
                version bigint NOT NULL,
                text    bytea NOT NULL
            );
        """
        # Rows are inserted in array order: callers pass sorted ids, a fixed lock order.
        self.create_documents = f"""
            WITH created AS (
                INSERT INTO {documents} (doc_id) SELECT unnest($1::text[])
                ON CONFLICT (doc_id) DO NOTHING RETURNING doc_id
            )
            INSERT INTO {snapshots} (doc_id, version, text)
            SELECT doc_id, 0, ''::bytea FROM created RETURNING doc_id
        """
        self.lock_heads = (
            f"SELECT doc_id, version FROM {documents} WHERE doc_id = ANY($1::text[]) "
            "ORDER BY doc_id FOR UPDATE"
        )
        self.insert_ops = (
            f'INSERT INTO {ops} (doc_id, version, op, client_id, seq, "user", "time") '
            "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], "
            "$5::bigint[], $6::text[], $7::float8[])"
        )
        # The last seq of each client survives compaction: exactly-once outlives the ops.
        self.upsert_seqs = (
            f"INSERT INTO {client_seqs} AS c (doc_id, client_id, seq) "
            "SELECT doc_id, client_id, max(seq) "
            "FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(doc_id, client_id, seq) "
            "GROUP BY doc_id, client_id "
            "ON CONFLICT (doc_id, client_id) DO UPDATE SET seq = greatest(c.seq, excluded.seq)"
        )
        self.move_heads = (
            f"UPDATE {documents} AS d SET version = h.version "
            "FROM unnest($1::text[], $2::bigint[]) AS h(doc_id, version) WHERE d.doc_id = h.doc_id"
        )
        self.head = f"SELECT version FROM {documents} WHERE doc_id = $1"
        self.load_snapshot = f"SELECT text, version FROM {snapshots} WHERE doc_id = $1"
        self.save_snapshot = (
            f"INSERT INTO {snapshots} AS s (doc_id, version, text) VALUES ($1, $2, $3) "
            "ON CONFLICT (doc_id) DO UPDATE SET version = excluded.version, text = excluded.text "
            "WHERE excluded.version > s.version"
        )
        self.ops_since = (
            f'SELECT version, op, client_id, seq, "user", "time" FROM {ops} '
            "WHERE doc_id = $1 AND version > $2 ORDER BY version LIMIT $3"
        )
        self.oldest_version = (
            f"SELECT coalesce((SELECT min(version) - 1 FROM {ops} WHERE doc_id = $1), "
            f"(SELECT version FROM {documents} WHERE doc_id = $1), 0)"
        )
        self.committed_seq = (
            f"SELECT version FROM {ops} WHERE doc_id = $1 AND client_id = $2 AND seq = $3 "
            "ORDER BY version LIMIT 1"
        )
        self.last_seq = (
            f"SELECT coalesce(max(seq), 0) FROM {client_seqs} WHERE doc_id = $1 AND client_id = $2"
        )
        # Never drop an op the stored snapshot does not cover: clamp to the snapshot's version.
        self.compact = (
            f"DELETE FROM {ops} WHERE doc_id = $1 AND version <= "
            f"least($2, coalesce((SELECT version FROM {snapshots} WHERE doc_id = $1), 0))"
        )
