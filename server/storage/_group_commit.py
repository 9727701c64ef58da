"""Group commit: callers queue writes; one task commits everything queued meanwhile as one batch.

Knows nothing of SQL: each adapter passes the function that commits a batch in one transaction.
Snapshots use it with a policy of their own (``SnapshotCommitter``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, NamedTuple, TypeVar

from server.storage.base import Snapshot, StorageError

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

BatchHook = Callable[[int], None]
"""Called with the number of writes after each committed batch (e.g. to feed a histogram)."""

_log = logging.getLogger(__name__)


class GroupCommitter(Generic[ItemT, ResultT]):
    """Commits queued items in batches, one batch at a time.

    While a batch commits, new items wait; the next batch takes all of them (up to ``max_batch``).
    So N concurrent writers cost about one commit per commit latency instead of N, with no timer
    and no added delay for a lone writer. A caller's ``submit`` returns only after the commit of
    its batch returned. ``commit`` gets the items in arrival order and returns one result per
    item; if it raises, every caller of that batch gets a ``StorageError``.
    """

    def __init__(
        self,
        commit: Callable[[list[ItemT]], Awaitable[list[ResultT]]],
        *,
        max_batch: int = 1024,
        on_batch: BatchHook | None = None,
    ) -> None:
        """Wrap ``commit``; ``on_batch`` observes the size of every committed batch."""
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._commit = commit
        self._max_batch = max_batch
        self._on_batch = on_batch
        self._queue: list[tuple[ItemT, asyncio.Future[ResultT]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, item: ItemT) -> ResultT:
        """Queue ``item`` for the next batch and return its result once that batch committed."""
        if self._closed:
            raise StorageError("the store is closed; open a new one to write")
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        return await future

    async def close(self) -> None:
        """Refuse new items and wait until every queued item is committed."""
        self._closed = True
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._commit_batch(batch)
        finally:
            # Only reached with items left if this task was cancelled: never leave callers hanging.
            for _, future in self._queue:
                _fail(future, StorageError("the store stopped before committing this write"))
            self._queue.clear()
            self._task = None

    async def _commit_batch(self, batch: list[tuple[ItemT, asyncio.Future[ResultT]]]) -> None:
        try:
            results = await self._commit([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                _fail(future, StorageError("interrupted while committing; the write may be lost"))
            raise
        except Exception as exc:
            for _, future in batch:
                _fail(future, exc)
            return
        if len(results) != len(batch):
            for _, future in batch:
                _fail(future, StorageError(f"{len(results)} results for {len(batch)} writes"))
            return
        self._report(len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # the caller may have been cancelled meanwhile
                future.set_result(result)

    def _report(self, size: int) -> None:
        if self._on_batch is None:
            return
        try:
            self._on_batch(size)
        except Exception:  # a broken metrics hook must not fail durable writes
            _log.exception("on_commit_batch hook failed")


def _fail(future: asyncio.Future[ResultT], exc: Exception) -> None:
    """Fail ``future`` with a StorageError of its own (one exception object per caller)."""
    if future.done():
        return
    error = StorageError(str(exc) or type(exc).__name__)
    error.__cause__ = exc
    future.set_exception(error)


SNAPSHOTS_PER_TRANSACTION = 16

SnapshotRefusal = ValueError | None
"""Per snapshot of a batch: None if kept, else why not (unknown document, ahead of the log)."""


class SnapshotSave(NamedTuple):
    """One snapshot to keep, and the version up to which the document's ops may then go."""

    doc_id: str
    snapshot: Snapshot
    compact_to: int | None


class SnapshotCommitter:
    """Snapshots are an optimisation; appends are what clients wait for. So a store commits
    snapshots in batches of at most ``SNAPSHOTS_PER_TRANSACTION``, one batch at a time: a burst
    of them (every document reaching its snapshot interval together) delays an append by one
    short transaction at most, and costs one fsync per batch instead of one per snapshot."""

    def __init__(
        self, commit: Callable[[list[SnapshotSave]], Awaitable[list[SnapshotRefusal]]]
    ) -> None:
        """``commit`` keeps a batch in one transaction, judging each snapshot on its own."""
        self._committer: GroupCommitter[SnapshotSave, SnapshotRefusal] = GroupCommitter(
            commit, max_batch=SNAPSHOTS_PER_TRANSACTION
        )

    async def save(self, doc_id: str, snapshot: Snapshot, compact_to: int | None) -> None:
        """Return once the batch holding ``snapshot`` committed; ``ValueError`` if refused."""
        refused = await self._committer.submit(SnapshotSave(doc_id, snapshot, compact_to))
        if refused is not None:
            raise refused

    async def close(self) -> None:
        """Refuse new snapshots and wait until every queued one is committed."""
        await self._committer.close()
