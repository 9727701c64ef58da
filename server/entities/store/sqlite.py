"""The embedded default record store: one SQLite file in WAL mode, writes group-committed.

Why the change sequence is safe here: every write transaction runs on one writer thread with one
connection and starts with ``BEGIN IMMEDIATE``, which takes SQLite's RESERVED lock, so at most
one write transaction exists at a time, even across processes. The transaction reads the head,
numbers its changes head+1, head+2, ... and stores the new head before it commits. So sequence
order is commit order, and a WAL reader, whose snapshot always falls between two commits, sees
every number up to some N and none above it: a cursor can never jump over an uncommitted change.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from server.entities.model import Record, Response
from server.entities.store.base import FeedRange, FeedRead, KeyRow, Outcome, Removal, WriteUnit
from server.entities.store.plan import KeyId, RecordKey, plan_group, touched_rows
from server.entities.store.rows import RECORD_COLUMNS, record_from_row, record_to_row
from server.storage import StorageError
from server.storage._group_commit import GroupCommitter
from server.storage.sqlite_threads import connect_reader, connect_writer, in_transaction, run_on

T = TypeVar("T")

_SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS entity_records (
    collection     TEXT NOT NULL,
    id             TEXT NOT NULL,
    version        INTEGER NOT NULL,
    seq            INTEGER NOT NULL,
    updated_at     REAL NOT NULL,
    deleted        INTEGER NOT NULL,
    data           TEXT,
    field_versions TEXT NOT NULL,
    owner          TEXT,
    client         TEXT,
    PRIMARY KEY (collection, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS entity_records_seq ON entity_records (seq);
CREATE INDEX IF NOT EXISTS entity_records_collection_seq ON entity_records (collection, seq);
CREATE TABLE IF NOT EXISTS entity_removals (
    seq        INTEGER NOT NULL,
    collection TEXT NOT NULL,
    id         TEXT NOT NULL,
    lost_by    TEXT NOT NULL,
    new_owner  TEXT,
    "time"     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entity_removals_seq ON entity_removals (seq);
CREATE TABLE IF NOT EXISTS entity_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    BLOB NOT NULL,
    expires_at  REAL NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entity_keys_expiry ON entity_keys (expires_at);
CREATE TABLE IF NOT EXISTS entity_state (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    head   INTEGER NOT NULL,
    purged INTEGER NOT NULL,
    epoch  TEXT NOT NULL
);
COMMIT;
"""

_SELECT_RECORD = f"SELECT {RECORD_COLUMNS} FROM entity_records WHERE collection = ? AND id = ?"
_UPSERT_RECORD = (
    f"INSERT INTO entity_records ({RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (collection, id) DO UPDATE SET version = excluded.version, seq = excluded.seq, "
    "updated_at = excluded.updated_at, deleted = excluded.deleted, data = excluded.data, "
    "field_versions = excluded.field_versions, owner = excluded.owner, client = excluded.client"
)
_INSERT_REMOVAL = (
    'INSERT INTO entity_removals (seq, collection, id, lost_by, new_owner, "time") '
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_KEY = (
    "INSERT INTO entity_keys (scope, key, fingerprint, response, expires_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET "
    "fingerprint = excluded.fingerprint, response = excluded.response, "
    "expires_at = excluded.expires_at"
)
_VISIBLE = "(owner IS NULL OR owner = ?)"
_LOST_BY = "(lost_by = ? OR (lost_by = '*' AND (new_owner IS NULL OR new_owner != ?)))"


class SqliteEntityStore:
    """An ``EntityStore`` in one SQLite file, for a single server process.

    Concurrent ``write`` calls are queued while a transaction commits and the next transaction
    decides and commits all of them (one fsync). Reads run on a second connection.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        key_ttl: float = 86400.0,
        clock: Callable[[], float] = time.time,
        max_batch: int = 256,
    ) -> None:
        self._path = Path(path)
        self._synchronous = "FULL" if synchronous.upper() == "FULL" else "NORMAL"
        self._key_ttl = key_ttl
        self._clock = clock
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="coedit-entities-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="coedit-entities-reader")
        self._write_conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
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
        """Create the file and schema if missing; switch to WAL."""
        if self._write_conn is not None:
            return
        self._write_conn = await self._run(
            self._writer, partial(_connect, self._path, self._synchronous)
        )
        self._read_conn = await self._run(self._reader, partial(connect_reader, self._path))
        self._epoch = await self._read(_epoch)

    async def close(self) -> None:
        """Commit queued writes, close both connections and stop the threads."""
        if self._closed:
            return
        self._closed = True
        await self._units.close()
        for executor, conn in ((self._writer, self._write_conn), (self._reader, self._read_conn)):
            if conn is not None:
                await self._run(executor, conn.close)
            executor.shutdown(wait=False)
        self._write_conn = self._read_conn = None

    async def write(self, unit: WriteUnit) -> list[Outcome]:
        """Decide and commit ``unit`` in the next group transaction."""
        self._check_open()
        return await self._units.submit(unit)

    async def get(self, collection: str, record_id: str) -> Record | None:
        """The latest state of one record."""
        return await self._read(partial(_get, key=(collection, record_id)))

    async def list_records(
        self, collection: str, *, after_id: str, limit: int, user: str | None
    ) -> list[Record]:
        """Live readable records after ``after_id``, by id."""
        sql = (
            f"SELECT {RECORD_COLUMNS} FROM entity_records WHERE collection = ? AND id > ? "
            f"AND deleted = 0 AND {_VISIBLE} ORDER BY id LIMIT ?"
        )
        params = (collection, after_id, user or "", limit)
        rows = await self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [record_from_row(row) for row in rows]

    async def read_feed(self, ranges: list[FeedRange], *, user: str | None, limit: int) -> FeedRead:
        """The ranges in one read transaction (one WAL snapshot)."""
        return await self._read(partial(_read_feed, ranges=ranges, scope=user or "", limit=limit))

    async def purge(self, *, tombstones_before: float, keys_before: float) -> int:
        """Drop old tombstones, removals and expired keys; raise the purged mark."""
        self._check_open()
        work = partial(_purge, tombstones_before=tombstones_before, keys_before=keys_before)
        return await self._run(self._writer, partial(in_transaction, self._conn(), work))

    # -- threads ---------------------------------------------------------------------------------

    async def _commit_units(self, units: list[WriteUnit]) -> list[list[Outcome]]:
        work = partial(_commit_units, units=units, now=self._clock(), key_ttl=self._key_ttl)
        return await self._run(self._writer, partial(in_transaction, self._conn(), work))

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        conn = self._read_conn
        if conn is None:
            raise StorageError(f"entity store {self._path} is not open")
        return await self._run(self._reader, partial(query, conn))

    def _conn(self) -> sqlite3.Connection:
        if self._write_conn is None:
            raise StorageError(f"entity store {self._path} is not open")
        return self._write_conn

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"entity store {self._path} is closed")

    async def _run(self, executor: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        return await run_on(executor, f"entity store {self._path}", work)


# -- everything below runs on the store's threads ------------------------------------------------


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = connect_writer(path, synchronous, _SCHEMA)
    conn.execute(
        "INSERT OR IGNORE INTO entity_state (id, head, purged, epoch) VALUES (1, 0, 0, ?)",
        (uuid.uuid4().hex[:16],),
    )
    return conn


def _epoch(conn: sqlite3.Connection) -> str:
    (epoch,) = conn.execute("SELECT epoch FROM entity_state").fetchone()
    return str(epoch)


def _get(conn: sqlite3.Connection, key: RecordKey) -> Record | None:
    row = conn.execute(_SELECT_RECORD, key).fetchone()
    return None if row is None else record_from_row(row)


def _load_key(conn: sqlite3.Connection, key: KeyId) -> KeyRow | None:
    row = conn.execute(
        "SELECT fingerprint, response, expires_at FROM entity_keys WHERE scope = ? AND key = ?",
        key,
    ).fetchone()
    if row is None:
        return None
    return KeyRow(key[0], key[1], row[0], Response.decode(row[1]), row[2])


def _commit_units(
    conn: sqlite3.Connection, units: list[WriteUnit], now: float, key_ttl: float
) -> list[list[Outcome]]:
    record_keys, key_ids = touched_rows(units)
    records = {k: r for k in record_keys if (r := _get(conn, k)) is not None}
    keys = {k: row for k in key_ids if (row := _load_key(conn, k)) is not None}
    plan = plan_group(units, records, keys, now=now, key_ttl=key_ttl)
    if plan.changes:
        (head,) = conn.execute("SELECT head FROM entity_state").fetchone()
        rows, removals = plan.numbered(head + 1)
        conn.execute("UPDATE entity_state SET head = ?", (head + len(plan.changes),))
        conn.executemany(_UPSERT_RECORD, [record_to_row(r) for r in rows])
        conn.executemany(
            _INSERT_REMOVAL,
            [(r.seq, r.collection, r.id, lost, r.owner, r.updated_at) for r, lost in removals],
        )
    conn.executemany(
        _UPSERT_KEY,
        [(k.scope, k.key, k.fingerprint, k.response.encode(), k.expires_at) for k in plan.keys],
    )
    return plan.outcomes


def _read_feed(
    conn: sqlite3.Connection, ranges: list[FeedRange], scope: str, limit: int
) -> FeedRead:
    conn.execute("BEGIN")
    try:
        epoch, head, purged = conn.execute(
            "SELECT epoch, head, purged FROM entity_state"
        ).fetchone()
        budget = limit + 1
        rows: list[list[Record | Removal]] = []
        for feed_range in ranges:
            found = _range_rows(conn, feed_range, scope, budget) if budget > 0 else []
            rows.append(found)
            budget -= len(found)
    finally:
        conn.execute("COMMIT")
    return FeedRead(epoch, head, purged, rows)


def _range_rows(
    conn: sqlite3.Connection, feed_range: FeedRange, scope: str, budget: int
) -> list[Record | Removal]:
    names = feed_range.collections
    marks = ", ".join("?" * len(names))
    if feed_range.upto is not None:
        sql = (
            f"SELECT {RECORD_COLUMNS} FROM entity_records WHERE collection IN ({marks}) "
            f"AND seq > ? AND seq <= ? AND deleted = 0 AND {_VISIBLE} ORDER BY seq LIMIT ?"
        )
        params = (*names, feed_range.after, feed_range.upto, scope, budget)
        return [record_from_row(r) for r in conn.execute(sql, params)]
    sql = (
        f"SELECT {RECORD_COLUMNS} FROM entity_records WHERE collection IN ({marks}) "
        f"AND seq > ? AND {_VISIBLE} ORDER BY seq LIMIT ?"
    )
    records = [
        record_from_row(r) for r in conn.execute(sql, (*names, feed_range.after, scope, budget))
    ]
    sql = (
        f"SELECT collection, id, seq FROM entity_removals WHERE collection IN ({marks}) "
        f"AND seq > ? AND {_LOST_BY} ORDER BY seq LIMIT ?"
    )
    params = (*names, feed_range.after, scope, scope, budget)
    removals = [Removal(c, i, s) for c, i, s in conn.execute(sql, params)]
    merged: list[Record | Removal] = sorted([*records, *removals], key=lambda row: row.seq)
    return merged[:budget]


def _purge(conn: sqlite3.Connection, tombstones_before: float, keys_before: float) -> int:
    (mark,) = conn.execute(
        "SELECT max(coalesce((SELECT max(seq) FROM entity_records WHERE deleted = 1 "
        "AND updated_at < ?), 0), coalesce((SELECT max(seq) FROM entity_removals "
        'WHERE "time" < ?), 0))',
        (tombstones_before, tombstones_before),
    ).fetchone()
    gone = conn.execute(
        "DELETE FROM entity_records WHERE deleted = 1 AND updated_at < ?", (tombstones_before,)
    ).rowcount
    gone += conn.execute(
        'DELETE FROM entity_removals WHERE "time" < ?', (tombstones_before,)
    ).rowcount
    gone += conn.execute("DELETE FROM entity_keys WHERE expires_at <= ?", (keys_before,)).rowcount
    conn.execute("UPDATE entity_state SET purged = max(purged, ?)", (mark,))
    return gone
