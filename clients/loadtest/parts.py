"""Running the parts of a run: in this process (one part) or in worker processes (several), with
the parent taking part in every rendezvous. A part that fails breaks the rendezvous, so nobody
waits for it forever; its error surfaces in the parent as ``LoadTestError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import queue
import threading
import traceback
from collections.abc import Coroutine
from multiprocessing.context import SpawnProcess
from typing import Any, Protocol, TypeVar

import aiohttp

from clients.loadtest.coordination import (
    BOARD_FIELDS,
    PHASE_TIMEOUT,
    LocalRendezvous,
    ProcessRendezvous,
    ProgressBoard,
    Rendezvous,
)
from clients.loadtest.part import PartEnv, PartPlan
from clients.loadtest.stats import PartStats

LIVENESS_SECONDS = 0.5
T = TypeVar("T")


class LoadTestError(Exception):
    """The run could not be carried out (a part failed, the server refused)."""


async def run_part(plan: PartPlan, rendezvous: Rendezvous, board: ProgressBoard) -> PartStats:
    """One part from start to end, in whatever process it runs."""
    from clients.loadtest.workloads import WORKLOADS

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        env = PartEnv(plan, http, rendezvous, board)
        progress = asyncio.create_task(env.publish_progress())
        try:
            await WORKLOADS[plan.options.workload].run_part(env)
        finally:
            progress.cancel()
            await env.close()
            board.publish(plan.index, env.stats)
    return env.stats


class PartGroup(Protocol):
    board: ProgressBoard

    async def meet(self) -> None:
        """Join the parts at their next rendezvous."""

    async def results(self) -> PartStats:
        """Every part's figures, added up, once all have finished."""


def start_parts(plans: list[PartPlan]) -> PartGroup:
    """Start the parts: one in this process, several in spawned worker processes."""
    cells = multiprocessing.get_context("spawn").Array("d", len(plans) * len(BOARD_FIELDS))
    board = ProgressBoard(len(plans), cells)
    if len(plans) == 1:
        return InProcessParts(plans[0], board)
    return ProcessParts(plans, board)


class InProcessParts:
    """One part, as a task of this event loop."""

    def __init__(self, plan: PartPlan, board: ProgressBoard) -> None:
        self.board = board
        self._rendezvous = LocalRendezvous(2)
        self._task = asyncio.create_task(run_part(plan, self._rendezvous, board))

    async def meet(self) -> None:
        meeting = asyncio.ensure_future(self._rendezvous.wait())
        await asyncio.wait({meeting, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not meeting.done():
            meeting.cancel()
            await self._task  # raises the part's error
            raise LoadTestError("the load part ended before the rendezvous")

    async def results(self) -> PartStats:
        return await self._task


class ProcessParts:
    """One spawned process per part; results come back through a queue."""

    def __init__(self, plans: list[PartPlan], board: ProgressBoard) -> None:
        context = multiprocessing.get_context("spawn")
        self.board = board
        self._barrier = context.Barrier(len(plans) + 1)
        self._queue: multiprocessing.Queue[tuple[str, int, Any]] = context.Queue()
        self._failure: str | None = None
        self._processes: list[SpawnProcess] = [
            context.Process(
                target=worker_main,
                args=(plan, self._barrier, board.cells, self._queue),
                name=f"coedit-loadtest-{plan.index}",
                daemon=True,
            )
            for plan in plans
        ]
        for process in self._processes:
            process.start()

    async def meet(self) -> None:
        waiter = asyncio.ensure_future(asyncio.to_thread(self._barrier.wait, PHASE_TIMEOUT))
        while not waiter.done():
            await asyncio.wait({waiter}, timeout=LIVENESS_SECONDS)
            if not waiter.done() and any(p.exitcode not in (None, 0) for p in self._processes):
                self._barrier.abort()
        try:
            waiter.result()
        except threading.BrokenBarrierError:
            raise LoadTestError(await self._first_failure()) from None

    async def results(self) -> PartStats:
        total = PartStats()
        for _ in self._processes:
            kind, index, payload = await asyncio.to_thread(self._queue.get, True, PHASE_TIMEOUT)
            if kind != "ok":
                raise LoadTestError(f"load process {index} failed:\n{payload}")
            total.merge(payload)
        for process in self._processes:
            await asyncio.to_thread(process.join)
        return total

    async def _first_failure(self) -> str:
        with contextlib.suppress(queue.Empty):
            while True:
                kind, index, payload = await asyncio.to_thread(self._queue.get, True, 5.0)
                if kind != "ok":
                    return f"load process {index} failed:\n{payload}"
        codes = [p.exitcode for p in self._processes]
        return f"a load process stopped (exit codes {codes})"


def worker_main(
    plan: PartPlan,
    barrier: threading.Barrier,
    cells: Any,
    results: multiprocessing.Queue[tuple[str, int, Any]],
) -> None:
    """Entry point of a worker process: run one part, send back its figures or its error."""
    from server.cli import tune_gc

    board = ProgressBoard(plan.count, cells)
    tune_gc()
    try:
        stats = run_event_loop(run_part(plan, ProcessRendezvous(barrier), board))
    except BaseException:
        results.put(("error", plan.index, traceback.format_exc()))
        barrier.abort()
        raise
    results.put(("ok", plan.index, stats))


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when it is installed, else on the default asyncio loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    result: T = uvloop.run(main)
    return result
