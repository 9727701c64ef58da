"""The audit log writer: ordered, batched, never blocking the caller, riding out store failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from server.auth.acl import Resource
from server.auth.audit import AuditLog
from server.auth.events import AuditEntry, AuditKind
from server.auth.store.sqlite import SqliteAuthStore
from server.storage import StorageError

DOC = Resource.doc("notes")


class FlakyStore(SqliteAuthStore):
    """A real SQLite store whose first audit appends fail, as a full disk would."""

    failures = 0

    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        if self.failures:
            self.failures -= 1
            raise StorageError("disk full")
        await super().append_audit(entries)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FlakyStore]:
    store = FlakyStore(tmp_path / "auth.db", synchronous="NORMAL")
    await store.open()
    yield store
    await store.close()


async def test_entries_of_one_loop_turn_are_stored_in_one_batch_in_order(store) -> None:
    audit = AuditLog(store, clock=lambda: 1234.5)
    for version in range(1, 101):  # one commit of 100 ops
        audit.record(AuditKind.OP_COMMITTED, user="alice", remote="::1", resource=DOC, v=version)
    async with asyncio.timeout(10):
        await audit.flush()
    entries = await store.read_audit(DOC, 0, 1000)
    assert [e.detail["v"] for e in entries] == list(range(1, 101))
    assert audit.batches_written == 1
    assert entries[0].time == 1234.5 and entries[0].user == "alice"


async def test_flush_waits_only_for_what_was_recorded_before(store) -> None:
    audit = AuditLog(store)
    async with asyncio.timeout(10):
        await audit.flush()  # nothing recorded: returns at once
        audit.record(AuditKind.AUTH_FAILED, user=None, remote="10.1.1.1", code="unauthorized")
        await audit.flush()
    (entry,) = await store.read_audit(None, 0, 10)
    assert entry.kind == "auth.failed" and entry.resource is None


async def test_a_failing_store_is_retried_without_losing_or_reordering(store) -> None:
    store.failures = 2
    audit = AuditLog(store, retry_seconds=0.01)
    audit.record(AuditKind.DOC_OPENED, user="a", remote=None, resource=DOC, n=1)
    audit.record(AuditKind.DOC_OPENED, user="a", remote=None, resource=DOC, n=2)
    async with asyncio.timeout(10):
        await audit.flush()
    assert [e.detail["n"] for e in await store.read_audit(DOC, 0, 10)] == [1, 2]
    assert store.failures == 0 and audit.dropped == 0


async def test_a_full_backlog_drops_new_entries_and_counts_them(store) -> None:
    audit = AuditLog(store, max_pending=3)
    for n in range(5):
        audit.record(AuditKind.DOC_OPENED, user="a", remote=None, resource=DOC, n=n)
    assert audit.dropped == 2
    async with asyncio.timeout(10):
        await audit.close()
    assert [e.detail["n"] for e in await store.read_audit(DOC, 0, 10)] == [0, 1, 2]


def count_appends(store: FlakyStore) -> tuple[list[int], asyncio.Event]:
    """The size of every batch handed to ``store``, and an event set once one is stored."""
    sizes: list[int] = []
    stored = asyncio.Event()
    append = store.append_audit

    async def counted(entries: Sequence[AuditEntry]) -> None:
        sizes.append(len(entries))
        await append(entries)
        stored.set()

    store.append_audit = counted  # type: ignore[method-assign]
    return sizes, stored


async def test_entries_of_several_loop_turns_within_the_linger_share_a_batch(store) -> None:
    sizes, _ = count_appends(store)
    audit = AuditLog(store, linger_seconds=60.0)
    for n in range(3):
        audit.record(AuditKind.DOC_OPENED, user="a", remote=None, resource=DOC, n=n)
        for _ in range(3):
            await asyncio.sleep(0)  # the writer runs: it must linger, not write
    assert sizes == []
    async with asyncio.timeout(10):
        await audit.flush()  # a flush cuts the linger short
    assert sizes == [3]
    assert [e.detail["n"] for e in await store.read_audit(DOC, 0, 10)] == [0, 1, 2]


async def test_a_full_batch_is_written_without_lingering(store) -> None:
    sizes, stored = count_appends(store)
    audit = AuditLog(store, linger_seconds=60.0, max_batch=2)
    for n in range(3):
        audit.record(AuditKind.DOC_OPENED, user="a", remote=None, resource=DOC, n=n)
    async with asyncio.timeout(10):
        await stored.wait()
    assert sizes == [2]  # the third entry lingers
    async with asyncio.timeout(10):
        await audit.close()
    assert sizes == [2, 1]
