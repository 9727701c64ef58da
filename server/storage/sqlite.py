"""The embedded default store: one SQLite file in WAL mode, appends group-committed.

Uses the stdlib ``sqlite3`` on two private threads: every write runs on the writer thread (one
connection, so SQLite never sees two writers), reads on a reader thread with its own connection
(WAL lets it read while the writer commits). Knows nothing of the hub.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

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
from server.storage.sqlite_threads import (
    SYNCHRONOUS_MODES,
    connect_reader,
    connect_writer,
    in_transaction,
    run_on,
)

T = TypeVar("T")

# documents.version is the head of the log. It is kept apart from the ops because compaction may
# delete every op, and the next append must still start at head + 1.
_SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS documents (
    doc_id     TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    version    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ops (
    doc_id    TEXT NOT NULL,
    version   INTEGER NOT NULL,
    op        TEXT NOT NULL,
    client_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    "user"    TEXT,
    "time"    REAL NOT NULL,
    PRIMARY KEY (doc_id, version)
) WITHOUT ROWID;
-- No index on (doc_id, client_id, seq): client_seqs answers the hot question, a client's last
-- seq, and one more B-tree to change cost each append a quarter of its CPU. The rare question
-- (the version of an older seq, for a late resubmission no longer in memory) scans the
-- document's ops. Databases made before drop the index here.
DROP INDEX IF EXISTS ops_client_seq;
CREATE TABLE IF NOT EXISTS client_seqs (
    doc_id    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (doc_id, client_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    doc_id  TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    text    TEXT NOT NULL
);
COMMIT;
"""

_INSERT_OP = (
    'INSERT INTO ops (doc_id, version, op, client_id, seq, "user", "time") '
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
# The last seq of each client survives compaction: exactly-once must outlive the ops themselves.
_UPSERT_SEQ = (
    "INSERT INTO client_seqs (doc_id, client_id, seq) VALUES (?, ?, ?) "
    "ON CONFLICT (doc_id, client_id) DO UPDATE SET seq = max(seq, excluded.seq)"
)
_SELECT_OPS = (
    'SELECT version, op, client_id, seq, "user", "time" FROM ops '
    "WHERE doc_id = ? AND version > ? ORDER BY version LIMIT ?"
)
_UPSERT_SNAPSHOT = (
    "INSERT INTO snapshots (doc_id, version, text) VALUES (?, ?, ?) "
    "ON CONFLICT (doc_id) DO UPDATE SET version = excluded.version, text = excluded.text "
    "WHERE excluded.version > snapshots.version"
)
# Never drop an op the stored snapshot does not cover: clamp to the snapshot's version.
_COMPACT = (
    "DELETE FROM ops WHERE doc_id = ? AND version <= "
    "min(?, coalesce((SELECT version FROM snapshots WHERE doc_id = ?), 0))"
)
_OLDEST_VERSION = (
    "SELECT coalesce((SELECT min(version) - 1 FROM ops WHERE doc_id = ?), "
    "(SELECT version FROM documents WHERE doc_id = ?), 0)"
)


class SqliteStore:
    """A ``DocumentStore`` in one SQLite file: the embedded default, for a single server process.

    ``append`` is group-committed: calls that arrive while a transaction commits are queued and
    committed together in the next one (one fsync); each call returns only after that COMMIT.
    Within a batch every call is checked on its own, so a call that lost the race returns False
    without failing the others. Snapshots are group-committed too, in small batches of their
    own, so that a burst of them never holds appends back for long. ``synchronous="FULL"`` (the
    default) makes an acknowledged append survive power loss; ``"NORMAL"`` survives a crash of
    the process only.

    Unknown documents: reads return nothing (None, [], 0); ``append`` at version 1 creates the
    document (as ``create_document`` would) in the same transaction; ``save_snapshot`` raises
    ``ValueError``. A store is opened once; after ``close`` make a new one.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        max_batch: int = 1024,
        on_commit_batch: BatchHook | None = None,
    ) -> None:
        """Configure a store at ``path`` (created on ``open``, with its parent directory).

        ``on_commit_batch`` is called with the number of appends each transaction committed.
        """
        if synchronous.upper() not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {sorted(SYNCHRONOUS_MODES)}, got {synchronous!r}"
            )
        self._path = Path(path)
        self._synchronous = synchronous.upper()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="coedit-sqlite-writer")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="coedit-sqlite-reader")
        self._write_conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._closed = False
        self._appends: GroupCommitter[AppendCall, bool] = GroupCommitter(
            self._commit_appends, max_batch=max_batch, on_batch=on_commit_batch
        )
        self._snapshots = SnapshotCommitter(self._commit_snapshots)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    async def open(self) -> None:
        """Create the parent directory, the file and the schema if missing; switch to WAL."""
        self._check_not_closed()
        if self._write_conn is not None:
            return
        self._write_conn = await self._run(
            self._writer, partial(connect_writer, self._path, self._synchronous, _SCHEMA)
        )
        self._read_conn = await self._run(self._reader, partial(connect_reader, self._path))

    async def close(self) -> None:
        """Commit every queued append, then close both connections and stop the threads."""
        if self._closed:
            return
        self._closed = True
        await self._appends.close()
        await self._snapshots.close()
        for executor, conn in ((self._writer, self._write_conn), (self._reader, self._read_conn)):
            if conn is not None:
                await self._run(executor, conn.close)
            executor.shutdown(wait=False)  # its queue is empty: the close above ran last
        self._write_conn = self._read_conn = None

    async def create_document(self, doc_id: str) -> bool:
        """Create an empty document (with an empty snapshot at version 0); False if it existed."""
        return await self._write(partial(_create_document, doc_id=doc_id, now=time.time()))

    async def document_exists(self, doc_id: str) -> bool:
        """True if the document was created (explicitly or by its first append)."""
        return await self._read(partial(_head, doc_id=doc_id)) is not None

    async def load_snapshot(self, doc_id: str) -> Snapshot | None:
        """The newest stored snapshot, or None for an unknown document."""
        return await self._read(partial(_load_snapshot, doc_id=doc_id))

    async def save_snapshot(
        self, doc_id: str, snapshot: Snapshot, *, compact_to: int | None = None
    ) -> None:
        """Keep ``snapshot`` if it is newer than the stored one (so repeating it is harmless),
        then, with ``compact_to``, drop what ``compact(doc_id, compact_to)`` would.

        ``ValueError`` for an unknown document or a version beyond the log's head (nothing is
        dropped then). Snapshots saved meanwhile share one transaction.
        """
        self._check_not_closed()
        await self._snapshots.save(doc_id, snapshot, compact_to)

    async def ops_since(
        self, doc_id: str, version: int, limit: int | None = None
    ) -> list[CommittedOp]:
        """Committed ops with version above ``version``, ascending, at most ``limit``.

        After compaction the list starts at ``oldest_version() + 1`` whatever ``version`` was.
        """
        check_limit(limit)
        rows = await self._read(partial(_select_ops, doc_id=doc_id, version=version, limit=limit))
        return [decode_op(*row) for row in rows]

    async def oldest_version(self, doc_id: str) -> int:
        """The base version of the oldest kept op (the head if none is kept; 0 if unknown)."""
        return await self._read(partial(_oldest_version, doc_id=doc_id))

    async def append(self, doc_id: str, ops: Sequence[CommittedOp]) -> bool:
        """Durably append ops whose versions run on from the head; False (nothing written) if not.

        Appending version 1 to an unknown document creates it. ``ValueError`` for an empty call
        or non-consecutive versions.
        """
        call = prepare_append(doc_id, ops)
        self._check_not_closed()
        return await self._appends.submit(call)

    async def committed_seq(self, doc_id: str, client_id: str, seq: int) -> int | None:
        """The version at which ``client_id`` committed ``seq``, if that op is still kept."""
        return await self._read(
            partial(_committed_seq, doc_id=doc_id, client_id=client_id, seq=seq)
        )

    async def last_seq(self, doc_id: str, client_id: str) -> int:
        """The highest seq ``client_id`` committed among the kept ops (0 if none)."""
        return await self._read(partial(_last_seq, doc_id=doc_id, client_id=client_id))

    async def compact(self, doc_id: str, before_version: int) -> None:
        """Drop ops with version <= ``before_version`` that the stored snapshot covers.

        Ops newer than the snapshot are always kept, so history is never lost.
        """
        await self._write(partial(_compact, doc_id=doc_id, before_version=before_version))

    # -- threads --------------------------------------------------------------------------------

    async def _commit_appends(self, calls: list[AppendCall]) -> list[bool]:
        # Not _write: close() drains queued appends through here after refusing new calls.
        return await self._transact(partial(_append_batch, calls=calls, now=time.time()))

    async def _commit_snapshots(self, snapshots: list[SnapshotSave]) -> list[SnapshotRefusal]:
        return await self._transact(partial(_save_snapshots, snapshots=snapshots))

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        self._check_not_closed()
        return await self._transact(work)

    async def _transact(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one IMMEDIATE transaction on the writer thread."""
        conn = self._connection(self._write_conn)
        return await self._run(self._writer, partial(in_transaction, conn, work))

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        self._check_not_closed()
        conn = self._connection(self._read_conn)
        return await self._run(self._reader, partial(query, conn))

    async def _run(self, executor: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        return await run_on(executor, f"SQLite store {self._path}", work)

    def _connection(self, conn: sqlite3.Connection | None) -> sqlite3.Connection:
        if conn is None:
            raise StorageError(f"SQLite store {self._path} is not open; call open() first")
        return conn

    def _check_not_closed(self) -> None:
        if self._closed:
            raise StorageError(f"SQLite store {self._path} is closed; open a new one")


# -- everything below runs on the store's threads ---------------------------------------------


def _append_batch(conn: sqlite3.Connection, calls: list[AppendCall], now: float) -> list[bool]:
    # In arrival order, so of two calls for the same version the earlier one wins. A losing call
    # is refused by the head check before it writes anything, so no call needs a savepoint of
    # its own; anything else that fails rolls the whole batch back (``in_transaction``).
    return [_try_append(conn, call, now) for call in calls]


def _try_append(conn: sqlite3.Connection, call: AppendCall, now: float) -> bool:
    """Move the head from ``first_version - 1`` to ``last_version`` (or create the document at
    it), then write the ops; False, with nothing written, if the head was elsewhere."""
    moved = conn.execute(
        "UPDATE documents SET version = ? WHERE doc_id = ? AND version = ?",
        (call.last_version, call.doc_id, call.first_version - 1),
    ).rowcount
    if not moved and (
        call.first_version != 1
        or not _create_document(conn, call.doc_id, now, version=call.last_version)
    ):
        return False
    conn.executemany(_INSERT_OP, call.rows)
    conn.executemany(_UPSERT_SEQ, [(row[0], row[3], row[4]) for row in call.rows])
    return True


def _create_document(conn: sqlite3.Connection, doc_id: str, now: float, version: int = 0) -> bool:
    """Create an empty document whose head is ``version``; False if it exists."""
    cursor = conn.execute(
        "INSERT INTO documents (doc_id, created_at, version) VALUES (?, ?, ?) "
        "ON CONFLICT (doc_id) DO NOTHING",
        (doc_id, now, version),
    )
    if cursor.rowcount != 1:
        return False
    conn.execute("INSERT INTO snapshots (doc_id, version, text) VALUES (?, 0, '')", (doc_id,))
    return True


def _head(conn: sqlite3.Connection, doc_id: str) -> int | None:
    row = conn.execute("SELECT version FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
    return None if row is None else int(row[0])


def _save_snapshots(
    conn: sqlite3.Connection, snapshots: list[SnapshotSave]
) -> list[SnapshotRefusal]:
    """Keep each snapshot the log's head allows; the refusal of each one it does not."""
    refusals: list[SnapshotRefusal] = []
    for doc_id, snapshot, compact_to in snapshots:
        try:
            check_snapshot(doc_id, snapshot, _head(conn, doc_id))
        except ValueError as refusal:
            refusals.append(refusal)
            continue
        conn.execute(_UPSERT_SNAPSHOT, (doc_id, snapshot.version, snapshot.text))
        if compact_to is not None:
            _compact(conn, doc_id, compact_to)
        refusals.append(None)
    return refusals


def _load_snapshot(conn: sqlite3.Connection, doc_id: str) -> Snapshot | None:
    row = conn.execute("SELECT text, version FROM snapshots WHERE doc_id = ?", (doc_id,)).fetchone()
    return None if row is None else Snapshot(text=row[0], version=row[1])


def _select_ops(
    conn: sqlite3.Connection, doc_id: str, version: int, limit: int | None
) -> list[tuple[int, str, str, int, str | None, float]]:
    # LIMIT -1 means no limit in SQLite.
    params = (doc_id, version, -1 if limit is None else limit)
    return conn.execute(_SELECT_OPS, params).fetchall()


def _oldest_version(conn: sqlite3.Connection, doc_id: str) -> int:
    return int(conn.execute(_OLDEST_VERSION, (doc_id, doc_id)).fetchone()[0])


def _committed_seq(conn: sqlite3.Connection, doc_id: str, client_id: str, seq: int) -> int | None:
    row = conn.execute(
        "SELECT version FROM ops WHERE doc_id = ? AND client_id = ? AND seq = ? "
        "ORDER BY version LIMIT 1",
        (doc_id, client_id, seq),
    ).fetchone()
    return None if row is None else int(row[0])


def _last_seq(conn: sqlite3.Connection, doc_id: str, client_id: str) -> int:
    row = conn.execute(
        "SELECT coalesce(max(seq), 0) FROM client_seqs WHERE doc_id = ? AND client_id = ?",
        (doc_id, client_id),
    ).fetchone()
    return int(row[0])


def _compact(conn: sqlite3.Connection, doc_id: str, before_version: int) -> None:
    conn.execute(_COMPACT, (doc_id, before_version, doc_id))
