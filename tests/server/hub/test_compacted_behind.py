"""Two server processes on one store, with ``keep_ops``: one commits and compacts ops the other
has not read yet. The one behind must not apply the ops after the gap to its stale text (ops
that delete apply to any long enough text, silently wrong): it reloads the stored document and
tells its clients to resync. A load racing a compaction is read again from the newer snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest

from ot import TextOperation
from server.config import HubSettings, Limits
from server.hub.hub import Hub
from server.hub.loading import read_document
from server.protocol.errors import ErrorCode, ProtocolError
from server.storage import CommittedOp, Snapshot, StorageError
from server.storage.sqlite import SqliteStore

SETTINGS = HubSettings(snapshot_every=5, keep_ops=2)
ALPHABET = "abcdefghijklmnopqrst"


class Inbox:
    """A subscriber that keeps what it is delivered."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.user: str | None = None
        self.messages: list[dict[str, object]] = []

    def deliver(self, message: bytes) -> None:
        self.messages.append(orjson.loads(message))

    relay = deliver

    def when_sent(self, callback: Callable[[], None]) -> None:
        callback()


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    """Two stores on one file: what two server processes sharing PostgreSQL see."""
    pair = (
        SqliteStore(tmp_path / "coedit.db", synchronous="NORMAL"),
        SqliteStore(tmp_path / "coedit.db", synchronous="NORMAL"),
    )
    for store in pair:
        await store.open()
    yield pair
    for store in pair:
        await store.close()


async def test_a_process_behind_a_compaction_reloads_instead_of_corrupting(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    store_a, store_b = stores
    a, b = Hub(store_a, SETTINGS, Limits()), Hub(store_b, SETTINGS, Limits())
    doc_b = await b.document("d", create=True)
    await b.submit(doc_b, origin=None, client_id="cb", user=None, seq=1, base_version=0,
                   op=TextOperation.from_json([ALPHABET]))  # fmt: skip
    reader = Inbox("reader")
    await a.open("d", reader, None)  # process A has the document open at version 1
    doc_a = await a.document("d", create=False)
    for seq in range(2, 14):  # process B deletes the first character twelve times
        await b.submit(doc_b, origin=None, client_id="cb", user=None, seq=seq,
                       base_version=doc_b.version,
                       op=TextOperation.from_json([-1, len(doc_b.text) - 1]))  # fmt: skip
        await b.drain()  # and snapshots and compacts behind every fifth
    assert await store_b.oldest_version("d") > 1  # op 2 is gone

    future = a.submit(doc_a, origin=None, client_id="ca", user=None, seq=1, base_version=1,
                      op=TextOperation.from_json([20, "!"]))  # fmt: skip
    with pytest.raises(ProtocolError) as refused:
        await future  # based on a version whose history is gone: the client must resync
    assert refused.value.code is ErrorCode.RESYNC_REQUIRED
    await a.drain()
    assert (doc_a.text, doc_a.version) == (doc_b.text, doc_b.version) == ("mnopqrst", 13)
    resync = [m for m in reader.messages if m.get("code") == "resync_required"]
    assert resync and resync[0]["doc"] == "d" and resync[0]["version"] == 13
    fresh = await read_document(store_a, "d", 100, create=False)
    assert fresh is not None and fresh.text == "mnopqrst"


class CompactingStore(SqliteStore):
    """Compacts the document once, right after its first snapshot was read: the race a load
    can lose against another process's snapshot."""

    raced = False

    async def load_snapshot(self, doc_id: str) -> Snapshot | None:
        snapshot = await super().load_snapshot(doc_id)
        if not self.raced:
            self.raced = True
            await self.save_snapshot(doc_id, Snapshot(ALPHABET[:8], 8), compact_to=6)
        return snapshot


async def test_a_load_that_races_a_compaction_reads_the_newer_snapshot(tmp_path: Path) -> None:
    store = CompactingStore(tmp_path / "coedit.db", synchronous="NORMAL")
    await store.open()
    try:
        ops = [TextOperation.from_json([n, ALPHABET[n]] if n else ["a"]) for n in range(10)]
        for version, op in enumerate(ops, start=1):
            assert await store.append("d", [CommittedOp(version, op, "c", version, None, 0.0)])
        doc = await read_document(store, "d", 100, create=False)
        assert store.raced and doc is not None
        assert (doc.text, doc.version, doc.snapshot_version) == (ALPHABET[:10], 10, 8)
    finally:
        await store.close()


class AlwaysCompactingStore(SqliteStore):
    """Compacts a step further after every snapshot read: history never holds still."""

    async def load_snapshot(self, doc_id: str) -> Snapshot | None:
        snapshot = await super().load_snapshot(doc_id)
        assert snapshot is not None
        newer = snapshot.version + 1
        await self.save_snapshot(doc_id, Snapshot(ALPHABET[:newer], newer), compact_to=newer)
        return snapshot


async def test_a_load_that_keeps_losing_to_compaction_is_a_storage_error(tmp_path: Path) -> None:
    store = AlwaysCompactingStore(tmp_path / "coedit.db", synchronous="NORMAL")
    await store.open()
    try:
        for version in range(1, 11):
            op = TextOperation.from_json([version - 1, "x"] if version > 1 else ["x"])
            assert await store.append("d", [CommittedOp(version, op, "c", version, None, 0.0)])
        with pytest.raises(StorageError, match="kept being compacted"):
            await read_document(store, "d", 100, create=False)
    finally:
        await store.close()
