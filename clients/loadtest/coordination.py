"""How the processes of one run keep step: rendezvous at each phase, and a shared board of
live counters for the progress line. Work the same with one process (in-process) or many."""

from __future__ import annotations

import asyncio
import multiprocessing.sharedctypes
import threading
from typing import Protocol

from clients.loadtest.stats import PartStats

PHASE_TIMEOUT = 1800.0  # a phase that takes longer means a process is stuck
BOARD_FIELDS = ("connected", "edits", "acks", "received", "errors")


class Rendezvous(Protocol):
    async def wait(self) -> None:
        """Return once every party of the run has reached the same phase."""


class LocalRendezvous:
    """Parties in one event loop (the parent and an in-process part)."""

    def __init__(self, parties: int) -> None:
        self._barrier = asyncio.Barrier(parties)

    async def wait(self) -> None:
        async with asyncio.timeout(PHASE_TIMEOUT):
            await self._barrier.wait()


class ProcessRendezvous:
    """Parties in several processes, over a ``multiprocessing`` barrier (waited on a thread)."""

    def __init__(self, barrier: threading.Barrier) -> None:
        self._barrier = barrier

    async def wait(self) -> None:
        await asyncio.to_thread(self._barrier.wait, PHASE_TIMEOUT)


class ProgressBoard:
    """One row of live counters per part, in shared memory; the parent sums them."""

    def __init__(self, parts: int, cells: multiprocessing.sharedctypes.SynchronizedArray[float]):
        self._parts = parts
        self._cells = cells

    @property
    def cells(self) -> multiprocessing.sharedctypes.SynchronizedArray[float]:
        return self._cells

    def publish(self, part: int, stats: PartStats) -> None:
        row = (stats.connected, stats.edits, stats.acks_total, stats.received,
               sum(stats.errors.values()))  # fmt: skip
        base = part * len(BOARD_FIELDS)
        for offset, value in enumerate(row):
            self._cells[base + offset] = float(value)

    def totals(self) -> dict[str, int]:
        width = len(BOARD_FIELDS)
        return {
            name: int(sum(self._cells[p * width + i] for p in range(self._parts)))
            for i, name in enumerate(BOARD_FIELDS)
        }
