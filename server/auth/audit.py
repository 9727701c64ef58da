"""The audit log: ``record`` never blocks; a background writer stores entries in order, in batches.

A commit of N ops records N entries in one event-loop turn, and they reach the store in one
insert batch, so auditing adds no storage round trip to the commit path. Entries are stored in
the order they were recorded; the store numbers them in that order.

The writer lets a batch fill for ``linger_seconds`` before writing it (less when the batch is
full or someone awaits ``flush``): a store write has a fixed cost (a transaction, a sync to disk,
a hop to the store's thread) of the order of a hundred entries' inserts, so under load, writing
whatever happened to queue during the previous write (a few dozen entries) spent most of the
audit log's CPU on that fixed cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import Any

from server.auth.acl import Resource
from server.auth.events import AuditEntry, AuditKind
from server.auth.store import AuthStore
from server.storage import StorageError

log = logging.getLogger(__name__)

_CLOSE_SECONDS = 10.0
LINGER_SECONDS = 0.05  # at 5,000 ops/s, batches of ~250 entries: most of the gain, little delay


class AuditLog:
    """Buffered, ordered writer of ``AuditEntry`` records over an ``AuthStore``."""

    def __init__(
        self,
        store: AuthStore,
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = 1000,
        max_pending: int = 100_000,
        retry_seconds: float = 1.0,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_batch = max_batch
        self._linger_seconds = linger_seconds
        self._hurry = asyncio.Event()  # set: stop lingering, write now
        self._max_pending = max_pending
        self._retry_seconds = retry_seconds
        self._pending: deque[AuditEntry] = deque()
        self._recorded = 0  # entries accepted by record()
        self._settled = 0  # entries stored, or given up on
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches_written = 0
        self.dropped = 0

    def record(
        self,
        kind: AuditKind | str,
        *,
        user: str | None,
        remote: str | None,
        resource: Resource | None = None,
        **detail: Any,
    ) -> None:
        """Queue one entry, stamped now; it is stored shortly after, after every earlier one.

        ``detail`` must be JSON-serialisable. Call from the event loop's thread.
        """
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error(
                    "audit log backlog full (%d entries): dropping entries", len(self._pending)
                )
            return
        self._pending.append(AuditEntry(str(kind), self._clock(), user, remote, resource, detail))
        self._recorded += 1
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        elif len(self._pending) >= self._max_batch:
            self._hurry.set()

    async def flush(self) -> None:
        """Wait until every entry recorded before this call is stored."""
        if self._settled >= self._recorded:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((self._recorded, waiter))
        self._hurry.set()
        await waiter

    async def close(self) -> None:
        """Store what is queued (waiting a bounded time if the store is down), then stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), _CLOSE_SECONDS)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._pending:
            log.error("audit log closed with %d entries unwritten", len(self._pending))

    async def _drain(self) -> None:
        try:
            while self._pending:
                await self._linger()
                batch = list(islice(self._pending, self._max_batch))
                try:
                    await self._store.append_audit(batch)
                    self.batches_written += 1
                except StorageError as exc:
                    log.warning("audit write failed, retrying: %s", exc)
                    await asyncio.sleep(self._retry_seconds)
                    continue
                except Exception:
                    log.exception("audit batch of %d entries could not be written", len(batch))
                    self.dropped += len(batch)
                for _ in batch:
                    self._pending.popleft()
                self._settle(len(batch))
        finally:
            self._writer = None

    async def _linger(self) -> None:
        """Let the batch fill, unless it is full or a ``flush`` is waiting for it."""
        if self._waiters or len(self._pending) >= self._max_batch or self._linger_seconds <= 0:
            return
        self._hurry.clear()
        timer = asyncio.get_running_loop().call_later(self._linger_seconds, self._hurry.set)
        try:
            await self._hurry.wait()
        finally:
            timer.cancel()

    def _settle(self, count: int) -> None:
        self._settled += count
        waiting = []
        for target, waiter in self._waiters:
            if target <= self._settled:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                waiting.append((target, waiter))
        self._waiters = waiting
