"""What only the SQLite adapter promises: its file, WAL mode, and surviving a killed process."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from server.storage import StorageError
from server.storage.sqlite import SqliteStore
from tests.server.storage.test_contract import op_at, versions

ROOT = Path(__file__).resolve().parents[3]

# Appends one op, says so once append() returned, then keeps the store open until killed.
APPEND_THEN_WAIT = """
import asyncio, sys
from ot import TextOperation
from server.storage import CommittedOp
from server.storage.sqlite import SqliteStore

async def main() -> None:
    store = SqliteStore(sys.argv[1])
    await store.open()
    op = CommittedOp(1, TextOperation(["durable \U0001f600"]), "victim", 1, None, 1.5)
    print("appended" if await store.append("doc", [op]) else "lost", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_acked_append_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite3"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        APPEND_THEN_WAIT,
        str(path),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    finally:
        proc.kill()  # SIGKILL: no close(), no checkpoint; the op lives only in the WAL
        _, stderr = await proc.communicate()
    assert line == b"appended\n", stderr.decode()
    assert proc.returncode == -9

    store = SqliteStore(path)
    await store.open()
    try:
        (op,) = await store.ops_since("doc", 0)
        assert (op.version, op.op.to_json(), op.client_id) == (1, ["durable 😀"], "victim")
    finally:
        await store.close()


async def test_creates_the_parent_directory_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "coedit.sqlite3"
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.append("doc", [op_at(1)])
    finally:
        await store.close()
    assert store.path == path
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"documents", "ops", "snapshots", "client_seqs"} <= tables
        assert "ops_client_seq" not in tables  # client_seqs keeps the last seqs instead
        (op_text,) = conn.execute("SELECT op FROM ops").fetchone()
        assert op_text == '["x"]'  # the op's wire form
    finally:
        conn.close()


async def test_an_older_database_loses_the_client_seq_index(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.append("doc", [op_at(1), op_at(2)])
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    conn.execute("CREATE INDEX ops_client_seq ON ops (doc_id, client_id, seq)")  # as made before
    conn.close()
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.committed_seq("doc", "client-a", 2) == 2  # answered by a scan
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "ops_client_seq" not in names
    finally:
        conn.close()


async def test_synchronous_normal_is_accepted(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3", synchronous="normal")
    await store.open()
    try:
        assert await store.append("doc", [op_at(1)])
        assert versions(await store.ops_since("doc", 0)) == [1]
    finally:
        await store.close()


def test_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(tmp_path / "db.sqlite3", synchronous="SOMETIMES")


async def test_unusable_path_raises_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = SqliteStore(blocker / "coedit.sqlite3")
    try:
        with pytest.raises(StorageError, match=r"coedit\.sqlite3"):
            await store.open()
    finally:
        await store.close()


async def test_not_a_database_raises_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not an SQLite database, not even close" * 100)
    store = SqliteStore(path)
    try:
        with pytest.raises(StorageError) as caught:
            await store.open()
        assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
    finally:
        await store.close()


async def test_calls_before_open_raise_storage_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(StorageError, match="not open"):
            await store.ops_since("doc", 0)
        with pytest.raises(StorageError, match="not open"):
            await store.append("doc", [op_at(1)])
    finally:
        await store.close()


async def test_a_failing_append_rolls_back_its_whole_group(tmp_path: Path) -> None:
    """Appends grouped into one transaction share its fate: a row that breaks a constraint
    (here an op planted past the head, as only a damaged file could hold) fails every append of
    the group with StorageError, and none of them is half-written."""
    path = tmp_path / "coedit.db"
    store = SqliteStore(path, synchronous="NORMAL")
    await store.open()
    try:
        assert await store.append("damaged", [op_at(1)])
        assert await store.append("healthy", [op_at(1)])
        with sqlite3.connect(path) as planted:
            planted.execute(
                "INSERT INTO ops (doc_id, version, op, client_id, seq, time) "
                "VALUES ('damaged', 2, '[\"x\"]', 'other', 1, 0)"
            )
        grouped = [store.append("healthy", [op_at(2)]), store.append("damaged", [op_at(2)])]
        results = await asyncio.gather(*grouped, return_exceptions=True)
        assert all(isinstance(result, StorageError) for result in results), results
        assert versions(await store.ops_since("healthy", 0)) == [1]
        assert await store.append("healthy", [op_at(2)])  # the store still works
    finally:
        await store.close()
