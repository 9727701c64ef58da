"""The replica's records, in SQLite: the server's copy of each synced record, the changes-feed
cursor, and the outbox of local writes not yet pushed. No network.

Each feed page is applied together with its cursor in one transaction, and each batch's results
together with the removal of the settled writes in one transaction, so a crash at any moment
leaves a state from which pulling again and pushing again (with the same idempotency keys) ends
exactly where an uninterrupted run would.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from clients.python.overlay import apply_write

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entity_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entity_records (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL,       -- a tombstone keeps its version, so replays cannot revive it
    data TEXT,
    PRIMARY KEY (collection, id)
);
CREATE TABLE IF NOT EXISTS entity_outbox (
    position INTEGER PRIMARY KEY AUTOINCREMENT,   -- push order
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    op TEXT NOT NULL,               -- put, patch or delete
    body TEXT,
    if_match INTEGER,
    if_none_match INTEGER NOT NULL,
    base_version INTEGER,           -- the version the replica had when the write was made
    idempotency_key TEXT NOT NULL   -- the same on every attempt: the server applies it once
);
CREATE TABLE IF NOT EXISTS entity_rejected (
    position INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    op TEXT NOT NULL,
    body TEXT,
    status INTEGER NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL
);
"""

# A batch item with one of these statuses was not applied and may succeed later.
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A local write waiting in the outbox."""

    position: int
    collection: str
    id: str
    op: str
    body: dict[str, Any] | None
    if_match: int | None
    if_none_match: bool
    base_version: int | None
    key: str

    def to_batch_item(self) -> dict[str, Any]:
        """The write as an item of ``POST /v1/batch``."""
        item: dict[str, Any] = {"op": self.op, "collection": self.collection, "id": self.id}
        if self.body is not None:
            item["data"] = self.body
        if self.if_match is not None:
            item["if_match"] = self.if_match
        if self.if_none_match:
            item["if_none_match"] = "*"
        if self.base_version is not None:
            item["base_version"] = self.base_version
        item["idempotency_key"] = self.key
        return item


@dataclass(frozen=True, slots=True)
class Rejection:
    """A write the server refused for good (a failed precondition, an invalid body...)."""

    write: PendingWrite
    status: int
    code: str
    message: str


@dataclass(slots=True)
class Settled:
    """What one batch's results did: records changed locally, writes refused, writes to retry."""

    changed: set[tuple[str, str]]
    rejected: list[Rejection]
    retry: int


class EntityStore:
    """Local records, cursor and entity outbox, on an open SQLite connection (the outbox's)."""

    def __init__(self, db: sqlite3.Connection, client_id: str) -> None:
        self._db = db
        self._client_id = client_id
        db.executescript(_SCHEMA)

    # -- reading ------------------------------------------------------------------------------

    def cursor(self) -> str | None:
        """The changes-feed cursor after the last applied page (``None``: never pulled)."""
        row = self._db.execute("SELECT value FROM entity_meta WHERE key = 'cursor'").fetchone()
        return None if row is None else str(row[0])

    def server_record(self, collection: str, record_id: str) -> tuple[int, Any] | None:
        """The server's ``(version, data)`` of a live record as last synced, or ``None``."""
        row = self._db.execute(
            "SELECT version, data FROM entity_records WHERE collection = ? AND id = ?"
            " AND deleted = 0",
            (collection, record_id),
        ).fetchone()
        return None if row is None else (int(row[0]), json.loads(row[1]))

    def get(self, collection: str, record_id: str) -> dict[str, Any] | None:
        """The record as this replica sees it: the server's copy with pending writes applied."""
        server = self.server_record(collection, record_id)
        data = server[1] if server is not None else None
        for write in self._pending_for(collection, record_id):
            data = apply_write(data, write.op, write.body)
        return data

    def all(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every live record of ``collection`` (id → data), pending writes applied."""
        ids = {
            str(r[0])
            for r in self._db.execute(
                "SELECT id FROM entity_records WHERE collection = ? AND deleted = 0"
                " UNION SELECT id FROM entity_outbox WHERE collection = ?",
                (collection, collection),
            )
        }
        found = {i: self.get(collection, i) for i in sorted(ids)}
        return {i: data for i, data in found.items() if data is not None}

    def pending(self, limit: int | None = None) -> list[PendingWrite]:
        """The outbox, oldest first."""
        sql = "SELECT * FROM entity_outbox ORDER BY position"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_pending(row) for row in self._db.execute(sql)]

    def depth(self) -> int:
        """How many writes wait in the outbox."""
        return int(self._db.execute("SELECT COUNT(*) FROM entity_outbox").fetchone()[0])

    def rejected(self) -> list[Rejection]:
        """Writes the server refused, oldest first (kept until ``clear_rejected``)."""
        rows = self._db.execute(
            "SELECT position, collection, id, op, body, status, code, message"
            " FROM entity_rejected ORDER BY position"
        )
        return [
            Rejection(
                PendingWrite(r[0], r[1], r[2], r[3], _load(r[4]), None, False, None, ""),
                r[5],
                r[6],
                r[7],
            )
            for r in rows
        ]

    # -- writing ------------------------------------------------------------------------------

    def queue(
        self,
        collection: str,
        record_id: str,
        op: str,
        body: dict[str, Any] | None,
        *,
        if_match: int | None = None,
        if_none_match: bool = False,
    ) -> PendingWrite:
        """Add a write to the outbox (durable when this returns), with its idempotency key."""
        server = self.server_record(collection, record_id)
        key = f"{self._client_id}.{secrets.token_hex(12)}"
        cursor = self._db.execute(
            "INSERT INTO entity_outbox (collection, id, op, body, if_match, if_none_match,"
            " base_version, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                collection,
                record_id,
                op,
                _dump(body),
                if_match,
                int(if_none_match),
                server[0] if server else None,
                key,
            ),
        )
        position = int(cursor.lastrowid or 0)
        base = server[0] if server else None
        return PendingWrite(
            position, collection, record_id, op, body, if_match, if_none_match, base, key
        )

    def apply_page(self, changes: list[dict[str, Any]], next_cursor: str) -> set[tuple[str, str]]:
        """Apply one page of the changes feed and its cursor in one transaction; returns the
        records it changed (``(collection, "")`` for a whole collection dropped)."""
        changed: set[tuple[str, str]] = set()
        with self._transaction():
            for change in changes:
                changed.add(self._apply_change(change))
            self._db.execute(
                "INSERT OR REPLACE INTO entity_meta (key, value) VALUES ('cursor', ?)",
                (next_cursor,),
            )
        return changed

    def settle(self, results: list[tuple[PendingWrite, dict[str, Any]]]) -> Settled:
        """Apply one batch's results in one transaction: settled writes leave the outbox, the
        server's answers update the local records, refused writes are kept aside."""
        settled = Settled(set(), [], 0)
        with self._transaction():
            for write, result in results:
                self._settle_one(write, result, settled)
        return settled

    def reset(self) -> None:
        """Forget every synced record and the cursor (the feed said ``cursor_expired``); the
        outbox stays and is pushed as usual."""
        with self._transaction():
            self._db.execute("DELETE FROM entity_records")
            self._db.execute("DELETE FROM entity_meta WHERE key = 'cursor'")

    def clear_rejected(self) -> None:
        self._db.execute("DELETE FROM entity_rejected")

    # -- internals ----------------------------------------------------------------------------

    def _apply_change(self, change: dict[str, Any]) -> tuple[str, str]:
        collection = str(change["collection"])
        record_id = change.get("id")
        if change.get("removed"):  # access lost or collection no longer synced: drop the copy
            if record_id is None:
                self._db.execute("DELETE FROM entity_records WHERE collection = ?", (collection,))
                return collection, ""
            self._db.execute(
                "DELETE FROM entity_records WHERE collection = ? AND id = ?",
                (collection, record_id),
            )
            return collection, str(record_id)
        self._store_record(change)
        return collection, str(record_id)

    def _store_record(self, record: dict[str, Any]) -> None:
        """Keep the server's record unless the replica already has a newer version."""
        self._db.execute(
            "INSERT INTO entity_records (collection, id, version, deleted, data)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (collection, id) DO UPDATE SET"
            " version = excluded.version, deleted = excluded.deleted, data = excluded.data"
            " WHERE excluded.version >= entity_records.version",
            (
                record["collection"],
                record["id"],
                int(record["version"]),
                int(bool(record.get("deleted"))),
                _dump(record.get("data")),
            ),
        )

    def _settle_one(self, write: PendingWrite, result: dict[str, Any], settled: Settled) -> None:
        status = int(result.get("status", 0))
        if result.get("result") != "ok" and status in RETRY_STATUSES:
            settled.retry += 1
            return
        self._db.execute("DELETE FROM entity_outbox WHERE position = ?", (write.position,))
        settled.changed.add((write.collection, write.id))
        if result.get("result") == "ok":
            self._store_record(result["record"])
            return
        if isinstance(result.get("current"), dict):
            self._store_record(result["current"])
        error = result.get("error") or {}
        rejection = Rejection(write, status, str(error.get("code")), str(error.get("message")))
        settled.rejected.append(rejection)
        self._db.execute(
            "INSERT OR REPLACE INTO entity_rejected VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                write.position,
                write.collection,
                write.id,
                write.op,
                _dump(write.body),
                status,
                rejection.code,
                rejection.message,
            ),
        )

    def _pending_for(self, collection: str, record_id: str) -> list[PendingWrite]:
        rows = self._db.execute(
            "SELECT * FROM entity_outbox WHERE collection = ? AND id = ? ORDER BY position",
            (collection, record_id),
        )
        return [_pending(row) for row in rows]

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _pending(row: tuple[Any, ...]) -> PendingWrite:
    position, collection, record_id, op, body, if_match, if_none_match, base, key = row
    return PendingWrite(
        position, collection, record_id, op, _load(body), if_match, bool(if_none_match), base, key
    )


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _load(value: str | None) -> Any:
    return None if value is None else json.loads(value)
