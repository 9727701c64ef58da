"""SQLite audit ids: increasing across restarts, kept when an AUTOINCREMENT table is migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.auth.acl import Resource
from server.auth.events import AuditEntry
from server.auth.store.sqlite import SqliteAuthStore

DOC = Resource.doc("notes")

# The audit table as versions before the migration created it.
_OLD_AUDIT = """
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    "time"      REAL NOT NULL,
    kind        TEXT NOT NULL,
    "user"      TEXT,
    remote      TEXT,
    object_kind TEXT,
    object_id   TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_object ON audit (object_kind, object_id, id);
"""


def entry(n: int) -> AuditEntry:
    return AuditEntry("op.committed", 1000.0 + n, "alice", "10.0.0.1", DOC, {"version": n})


def old_auth_db(path: Path, ids: list[int], sequence: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(_OLD_AUDIT)
        conn.executemany(
            'INSERT INTO audit (id, "time", kind, "user", remote, object_kind, object_id, detail) '
            "VALUES (?, 1.0, 'op.committed', 'bob', NULL, 'doc', 'notes', ?)",
            [(i, f'{{"version": {i}}}') for i in ids],
        )
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'audit'", (sequence,))
    conn.close()


def audit_sql(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'audit'").fetchone()
    conn.close()
    return str(sql)


async def append_and_read(path: Path, entries: list[AuditEntry]) -> list[AuditEntry]:
    store = SqliteAuthStore(path, synchronous="NORMAL")
    await store.open()
    try:
        await store.append_audit(entries)
        return await store.read_audit(DOC, 0, 1000)
    finally:
        await store.close()


async def test_ids_keep_increasing_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    await append_and_read(path, [entry(1), entry(2)])
    stored = await append_and_read(path, [entry(3)])
    assert [e.detail["version"] for e in stored] == [1, 2, 3]
    assert [e.id for e in stored] == [1, 2, 3]
    assert "AUTOINCREMENT" not in audit_sql(path).upper()


async def test_an_autoincrement_table_is_migrated_keeping_ids_and_order(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    old_auth_db(path, ids=[3, 7, 9], sequence=9)
    stored = await append_and_read(path, [entry(100), entry(101)])
    assert [e.id for e in stored] == [3, 7, 9, 10, 11]
    assert [e.user for e in stored[:3]] == ["bob"] * 3
    assert [e.detail["version"] for e in stored] == [3, 7, 9, 100, 101]
    assert "AUTOINCREMENT" not in audit_sql(path).upper()


async def test_a_table_whose_newest_rows_were_deleted_keeps_autoincrement(tmp_path: Path) -> None:
    # Ids 8 and 9 were handed out and deleted: without AUTOINCREMENT they would be reused.
    path = tmp_path / "auth.db"
    old_auth_db(path, ids=[3, 7], sequence=9)
    stored = await append_and_read(path, [entry(100)])
    assert [e.id for e in stored] == [3, 7, 10]
    assert "AUTOINCREMENT" in audit_sql(path).upper()
