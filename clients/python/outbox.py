"""The offline outbox: the replica's client id and each document's resumable state, in SQLite.

Local edits are written here before they are sent, so a process that dies (even by SIGKILL)
restarts with every unacknowledged op, its seq and base version, and resubmits it exactly once.
Synchronous ``sqlite3`` on purpose: each write is one small transaction that must be durable
before the submission it records goes out, and ordering is simplest when nothing interleaves.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from clients.python.state import DocState
from ot import Submission, TextOperation

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc TEXT PRIMARY KEY,
    version INTEGER NOT NULL,       -- the last server version applied
    text TEXT NOT NULL,             -- the server's text at that version
    last_seq INTEGER NOT NULL,      -- the last seq issued for this document
    inflight_seq INTEGER,           -- the submitted, unacknowledged op: its seq,
    inflight_base INTEGER,          --   the version it applies to,
    inflight_op TEXT,               --   and the op (JSON wire form)
    buffer_op TEXT                  -- later local edits, composed (JSON wire form)
);
"""

MEMORY = ":memory:"


class Outbox:
    """A SQLite file holding one replica's pending work. One process uses a file at a time."""

    def __init__(self, path: str | Path = MEMORY, *, synchronous: str = "FULL") -> None:
        """Open (creating if needed) the outbox at ``path``; ``:memory:`` keeps nothing.

        ``synchronous=FULL`` survives power loss; ``NORMAL`` only a process crash.
        """
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        if path != MEMORY:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def client_id(self) -> str:
        """This replica's client id: made once, then the same across restarts (it scopes seq)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'client_id'").fetchone()
        if row is not None:
            return str(row[0])
        client_id = f"py-{secrets.token_hex(8)}"
        self.db.execute("INSERT INTO meta (key, value) VALUES ('client_id', ?)", (client_id,))
        return client_id

    def load(self, doc: str) -> DocState | None:
        """The saved state of ``doc``, or ``None`` if this replica never opened it."""
        row = self.db.execute(
            "SELECT version, text, last_seq, inflight_seq, inflight_base, inflight_op, buffer_op"
            " FROM documents WHERE doc = ?",
            (doc,),
        ).fetchone()
        if row is None:
            return None
        version, text, last_seq, seq, base, inflight_op, buffer_op = row
        inflight = None
        if seq is not None:
            inflight = Submission(seq, base, TextOperation.from_json(json.loads(inflight_op)))
        buffer = TextOperation.from_json(json.loads(buffer_op)) if buffer_op else None
        return DocState(doc, version, text, last_seq, inflight, buffer)

    def save(self, state: DocState) -> None:
        """Replace the saved state of ``state.doc`` (durable when this returns)."""
        inflight = state.inflight
        self.db.execute(
            "INSERT OR REPLACE INTO documents (doc, version, text, last_seq, inflight_seq,"
            " inflight_base, inflight_op, buffer_op) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                state.doc,
                state.version,
                state.text,
                state.last_seq,
                inflight.seq if inflight else None,
                inflight.base_version if inflight else None,
                _op_json(inflight.op if inflight else None),
                _op_json(state.buffer),
            ),
        )

    def forget(self, doc: str) -> None:
        """Drop the saved state of ``doc`` (its pending edits are lost)."""
        self.db.execute("DELETE FROM documents WHERE doc = ?", (doc,))

    def documents(self) -> list[str]:
        """The ids of every saved document."""
        return [str(r[0]) for r in self.db.execute("SELECT doc FROM documents ORDER BY doc")]


def _op_json(op: TextOperation | None) -> str | None:
    if op is None:
        return None
    wire: list[Any] = op.to_json()
    return json.dumps(wire, ensure_ascii=False)
