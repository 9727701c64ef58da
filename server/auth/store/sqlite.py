"""Access control state in its own SQLite file (``auth.db`` beside the op log's ``coedit.db``).

A separate file keeps audit writes from queueing behind the op log's write lock. Every call runs
on one private thread with one connection, so SQLite never sees two writers from this process.

Audit ids are a plain ``INTEGER PRIMARY KEY``: SQLite gives a new row the largest id plus one, so
ids increase in insert order as long as the newest row is never deleted (audit retention,
``prune_audit``, keeps it). ``AUTOINCREMENT`` would promise that even then, at the price of a
``sqlite_sequence`` update per row; a file created with it is rebuilt without it when opened
(``_migrate_audit``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from server.auth.acl import AccessList, Resource
from server.auth.events import AuditEntry
from server.auth.store._codec import decode_acl, decode_entry, encode_acl, encode_entry
from server.auth.store.base import AclChange
from server.storage import StorageError
from server.storage.sqlite_threads import connect_writer, in_transaction, run_on

T = TypeVar("T")

_AUDIT_TABLE = """CREATE TABLE IF NOT EXISTS {name} (
    id          INTEGER PRIMARY KEY,
    "time"      REAL NOT NULL,
    kind        TEXT NOT NULL,
    "user"      TEXT,
    remote      TEXT,
    object_kind TEXT,
    object_id   TEXT,
    detail      TEXT NOT NULL
);"""
_AUDIT_INDEX = "CREATE INDEX IF NOT EXISTS audit_object ON audit (object_kind, object_id, id);"
_SCHEMA = f"""
BEGIN;
CREATE TABLE IF NOT EXISTS acl (
    kind       TEXT NOT NULL,
    id         TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS client_bindings (
    doc_id    TEXT NOT NULL,
    client_id TEXT NOT NULL,
    "user"    TEXT NOT NULL,
    bound_at  REAL NOT NULL,
    PRIMARY KEY (doc_id, client_id)
) WITHOUT ROWID;
{_AUDIT_TABLE.format(name="audit")}
{_AUDIT_INDEX}
COMMIT;
"""
_AUDIT_COLUMNS = 'id, "time", kind, "user", remote, object_kind, object_id, detail'

log = logging.getLogger(__name__)


class SqliteAuthStore:
    """An ``AuthStore`` in one SQLite file."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self._path = Path(path)
        self._synchronous = "NORMAL" if synchronous.upper() == "NORMAL" else "FULL"
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="coedit-auth-sqlite")
        self._conn: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        return self._path

    async def open(self) -> None:
        conn = await self._run(partial(connect_writer, self._path, self._synchronous, _SCHEMA))
        self._conn = conn
        await self._call(partial(in_transaction, work=_migrate_audit))

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._run(conn.close)
        self._thread.shutdown(wait=False)

    async def get_acl(self, resource: Resource) -> AccessList | None:
        return await self._call(partial(_get_acl, resource=resource))

    async def update_acl(self, resource: Resource, change: AclChange) -> AccessList | None:
        return await self._call(
            partial(in_transaction, work=partial(_update_acl, r=resource, f=change))
        )

    async def bind_client(self, doc_id: str, client_id: str, user: str) -> str:
        work = partial(_bind_client, doc_id=doc_id, client_id=client_id, user=user)
        return await self._call(partial(in_transaction, work=work))

    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        # Encoded on the store's thread: a batch can hold a thousand entries.
        await self._call(partial(in_transaction, work=partial(_append_audit, entries=entries)))

    async def read_audit(
        self, resource: Resource | None, after: int, limit: int
    ) -> list[AuditEntry]:
        rows = await self._call(partial(_read_audit, resource=resource, after=after, limit=limit))
        return [decode_entry(row) for row in rows]

    async def prune_audit(self, before: float, limit: int) -> int:
        """Delete the oldest entries before ``before``, up to ``limit``; never the newest row,
        whose id SQLite would otherwise hand out again (see the module's docstring)."""
        work = partial(_prune_audit, before=before, limit=limit)
        return await self._call(partial(in_transaction, work=work))

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise StorageError(f"auth store {self._path} is not open")
        return await self._run(partial(work, conn))

    async def _run(self, work: Callable[[], T]) -> T:
        return await run_on(self._thread, f"auth store {self._path}", work)


# -- everything below runs on the store's thread ----------------------------------------------


def _get_acl(conn: sqlite3.Connection, resource: Resource) -> AccessList | None:
    row = conn.execute(
        "SELECT body FROM acl WHERE kind = ? AND id = ?", (resource.kind.value, resource.id)
    ).fetchone()
    return decode_acl(None if row is None else row[0])


def _update_acl(conn: sqlite3.Connection, r: Resource, f: AclChange) -> AccessList | None:
    current = _get_acl(conn, r)
    changed = f(current)
    if changed is None or changed == current:
        return current
    conn.execute(
        "INSERT INTO acl (kind, id, body, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, "
        "updated_at = excluded.updated_at",
        (r.kind.value, r.id, encode_acl(changed), time.time()),
    )
    return changed


def _bind_client(conn: sqlite3.Connection, doc_id: str, client_id: str, user: str) -> str:
    conn.execute(
        'INSERT INTO client_bindings (doc_id, client_id, "user", bound_at) VALUES (?, ?, ?, ?) '
        "ON CONFLICT (doc_id, client_id) DO NOTHING",
        (doc_id, client_id, user, time.time()),
    )
    row = conn.execute(
        'SELECT "user" FROM client_bindings WHERE doc_id = ? AND client_id = ?', (doc_id, client_id)
    ).fetchone()
    return str(row[0])


def _append_audit(conn: sqlite3.Connection, entries: Sequence[AuditEntry]) -> None:
    conn.executemany(
        'INSERT INTO audit ("time", kind, "user", remote, object_kind, object_id, detail) '
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        map(encode_entry, entries),
    )


def _prune_audit(conn: sqlite3.Connection, before: float, limit: int) -> int:
    # Ids follow recording order, so the oldest entries are the lowest ids: look at the
    # ``limit`` lowest only (no index on the time, and no scan of the whole table).
    deleted = conn.execute(
        'DELETE FROM audit WHERE "time" < ? AND id IN (SELECT id FROM audit '
        "WHERE id < (SELECT max(id) FROM audit) ORDER BY id LIMIT ?)",
        (before, limit),
    ).rowcount
    return int(deleted)


def _read_audit(
    conn: sqlite3.Connection, resource: Resource | None, after: int, limit: int
) -> list[tuple[object, ...]]:
    if resource is None:
        sql = f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE id > ? ORDER BY id LIMIT ?"
        return conn.execute(sql, (after, limit)).fetchall()
    sql = (
        f"SELECT {_AUDIT_COLUMNS} FROM audit WHERE object_kind = ? AND object_id = ? AND id > ? "
        "ORDER BY id LIMIT ?"
    )
    return conn.execute(sql, (resource.kind.value, resource.id, after, limit)).fetchall()


def _migrate_audit(conn: sqlite3.Connection) -> None:
    """Rebuild an ``AUTOINCREMENT`` audit table (files of earlier versions) without it.

    Ids and order are kept. Runs in one transaction, so a crash leaves the old table intact.
    """
    if not _audit_autoincrements(conn) or _newest_audit_rows_deleted(conn):
        return
    conn.execute(_AUDIT_TABLE.format(name="audit_rebuilt"))
    conn.execute(f"INSERT INTO audit_rebuilt ({_AUDIT_COLUMNS}) SELECT {_AUDIT_COLUMNS} FROM audit")
    conn.execute("DROP TABLE audit")
    conn.execute("ALTER TABLE audit_rebuilt RENAME TO audit")
    conn.execute(_AUDIT_INDEX)
    conn.execute("DELETE FROM sqlite_sequence WHERE name = 'audit'")


def _audit_autoincrements(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'audit'")
    return "AUTOINCREMENT" in str(row.fetchone()[0]).upper()


def _newest_audit_rows_deleted(conn: sqlite3.Connection) -> bool:
    """True if ids above the largest were handed out: without AUTOINCREMENT they would be again."""
    (sequence,) = conn.execute(
        "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'audit'"
    ).fetchone()
    (largest,) = conn.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()
    if sequence > largest:
        log.warning(
            "auth store: audit ids up to %d were used but only %d remain; keeping AUTOINCREMENT",
            sequence,
            largest,
        )
    return bool(sequence > largest)
