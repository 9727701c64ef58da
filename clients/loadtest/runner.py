"""A whole run, from the parent process: seed the documents, start the parts, keep step with
them, watch the server's own metrics over the window, and put the report together."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from clients.loadtest.coordination import ProgressBoard
from clients.loadtest.options import LoadOptions
from clients.loadtest.part import PartPlan
from clients.loadtest.parts import start_parts
from clients.loadtest.progress import show_progress
from clients.loadtest.report import Report
from clients.loadtest.seed import seed_documents
from clients.loadtest.server_stats import Scrape, scrape
from clients.loadtest.stats import RunClock
from clients.loadtest.workloads import WORKLOADS, ParentEnv


async def run_loadtest(options: LoadOptions) -> Report:
    """Carry out one run against ``options.target`` and report on it."""
    workload = WORKLOADS[options.workload]
    processes = 1 if workload.single_process else max(1, options.processes)
    run_id = secrets.token_hex(3)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    epoch = time.time()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        parent = ParentEnv(options, run_id, http, RunClock(epoch))
        docs = workload.documents(options, run_id)
        await seed_documents(http, options.target, docs, options.doc_size, f"lt-{run_id}-seed")
        await workload.before(parent)
        plans = [PartPlan(options, run_id, epoch, i, processes) for i in range(processes)]
        parts = start_parts(plans)
        # With no warm-up the window opens before the parts are let go, so it holds every op.
        opening = None if options.warmup else await _reading(http, options)
        await parts.meet()  # every part connected
        progress = asyncio.create_task(_progress(options, parts.board))
        drained = asyncio.Event()
        window = asyncio.create_task(_server_window(http, options, drained, opening))
        try:
            await workload.during(parent)
            await parts.meet()  # every part drained
        finally:
            progress.cancel()
            drained.set()
            server = _server_figures(await window)
        stats = await parts.results()
        stats.merge(parent.stats)
        await workload.after(parent, stats)
    return Report(options, run_id, started, processes, stats, server)


async def _progress(options: LoadOptions, board: ProgressBoard) -> None:
    if options.progress:
        await show_progress(board, options.workload)


@dataclass(slots=True)
class _Window:
    """The server's metrics at the start of the measured window, and when it was read."""

    first: Scrape | None = None
    first_at: float = 0.0
    last: Scrape | None = None
    last_at: float = 0.0


async def _reading(
    http: aiohttp.ClientSession, options: LoadOptions
) -> tuple[Scrape | None, float]:
    """``/metrics`` now, and when it was read."""
    return await scrape(http, options.target), time.perf_counter()


async def _server_window(
    http: aiohttp.ClientSession,
    options: LoadOptions,
    drained: asyncio.Event,
    opening: tuple[Scrape | None, float] | None,
) -> _Window:
    """Read ``/metrics`` when the window opens (after the warm-up, unless ``opening`` was read
    already) and when it closes (at the deadline, or when the parts drained before it)."""
    window = _Window()
    if opening is None:
        await asyncio.sleep(options.warmup)
        opening = await _reading(http, options)
    window.first, window.first_at = opening
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(drained.wait(), options.duration)
    window.last, window.last_at = await _reading(http, options)
    return window


def _server_figures(window: _Window) -> dict[str, float]:
    first, last = window.first, window.last
    if first is None or last is None or window.last_at <= window.first_at:
        return {}
    wall = window.last_at - window.first_at
    cpu = first.delta(last, "process_cpu_seconds_total")
    committed = first.delta(last, "coedit_ops_committed_total")
    return {
        "cpu_share": cpu / wall,
        "cpu_per_op": cpu / committed if committed else float("nan"),
        "committed": committed,
        "ack_p50": first.quantile(last, "coedit_ack_latency_seconds", 0.5),
        "ack_p99": first.quantile(last, "coedit_ack_latency_seconds", 0.99),
        "ttc_p99": first.quantile(last, "coedit_time_to_consistency_seconds", 0.99),
        "commit_p99": first.quantile(last, "coedit_commit_latency_seconds", 0.99),
        "loop_lag_p99": first.quantile(last, "coedit_event_loop_lag_seconds", 0.99),
        "rss_bytes": last.values.get("process_resident_memory_bytes", float("nan")),
    }
