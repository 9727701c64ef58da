"""What every SQLite store of coedit shares (op log, records, access lists and audit): WAL
connections confined to private threads, immediate transactions, errors mapped to
``StorageError``. Runs on the stores' threads, never on the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from server.storage.base import StorageError

T = TypeVar("T")

SYNCHRONOUS_MODES = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})
_BUSY_TIMEOUT_MS = 5000


async def run_on(executor: ThreadPoolExecutor, label: str, work: Callable[[], T]) -> T:
    """Run ``work`` on a store's thread; SQLite and file errors become ``StorageError``."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, partial(_mapped, label, work))


def connect_writer(path: Path, synchronous: str, schema: str) -> sqlite3.Connection:
    """The writer connection: WAL mode, the given durability, the schema created if missing."""
    if synchronous not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {sorted(SYNCHRONOUS_MODES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            raise StorageError(f"SQLite store {path}: cannot use WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.executescript(schema)
    except BaseException:
        conn.close()
        raise
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection; WAL lets it read while the writer commits."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    return conn


def in_transaction(conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` in one IMMEDIATE transaction: committed whole or rolled back whole."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _mapped(label: str, work: Callable[[], T]) -> T:
    try:
        return work()
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"{label}: {exc}") from exc
