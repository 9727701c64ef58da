"""``idle``: many open, subscribed, silent connections. Measures the server's resident memory per
connection, then how fast a new editor gets its first op acknowledged among them.

The parts open ``connections`` sockets, each with one of ``docs`` documents open, and hold them.
Meanwhile the parent reads the server's memory before and after, and times ``probes`` new editors
one after the other: connect, open, first edit, ack. The probes' edits reach the idle
subscribers, whose replicas must converge like any other.
"""

from __future__ import annotations

import asyncio
import random
import time

from clients.loadtest.editor import Context, EditGate, Editor
from clients.loadtest.edits import EditMaker
from clients.loadtest.options import LoadOptions
from clients.loadtest.part import PartEnv, client_id, doc_id
from clients.loadtest.replica import SeenOps
from clients.loadtest.server_stats import server_rss
from clients.loadtest.workloads.base import ParentEnv


def documents(options: LoadOptions, run_id: str) -> list[str]:
    return [doc_id(run_id, i) for i in range(options.docs)]


async def run_part(env: PartEnv) -> None:
    plan, options = env.plan, env.options
    await env.connect(
        (client_id(plan.run_id, i), [doc_id(plan.run_id, i % options.docs)], False)
        for i in range(options.connections)
        if plan.owns(i)
    )
    await env.rendezvous.wait()  # all connected: the parent measures
    await env.rendezvous.wait()  # the parent is done
    await env.check_convergence()


async def before(env: ParentEnv) -> None:
    """The server's memory before any idle connection exists."""
    rss = await server_rss(env.http, env.options.target, env.options.server_pid)
    if rss is not None:
        env.stats.extra["server_rss_before"] = rss


async def during(env: ParentEnv) -> None:
    """Memory once every connection is open and settled, then the first-op probes."""
    options = env.options
    await asyncio.sleep(options.settle)
    rss = await server_rss(env.http, options.target, options.server_pid)
    if rss is not None and "server_rss_before" in env.stats.extra:
        env.stats.extra["server_rss_after"] = rss
        growth = rss - env.stats.extra["server_rss_before"]
        env.stats.extra["server_bytes_per_connection"] = growth / max(1, options.connections)
    for probe in range(options.probes):
        await _probe(env, probe)


async def _probe(env: ParentEnv, probe: int) -> None:
    """One new editor: connect, open a busy document, make one edit, wait for its ack."""
    context = Context(
        http=env.http,
        target=env.options.target,
        stats=env.stats,
        clock=env.clock,
        gate=EditGate(),
        edits=EditMaker(random.Random(f"probe-{probe}"), env.options.doc_size),
        seen=SeenOps(),
    )
    editor = Editor(f"lt-{env.run_id}-probe{probe}", context)
    timings = env.stats
    started = time.perf_counter()
    await editor.connect()
    connected = time.perf_counter()
    replica = await editor.open(doc_id(env.run_id, probe % env.options.docs))
    opened = time.perf_counter()
    editor.edit(replica, opened)
    await editor.flush()
    async with asyncio.timeout(env.options.drain_timeout):
        while replica.pending and not replica.broken:
            editor.changed.clear()
            await editor.changed.wait()
    acked = time.perf_counter()
    if replica.broken:
        env.stats.diverged.append(f"{editor.client_id}: {replica.broken}")
    timings.timing("probe connect").record(connected - started)
    timings.timing("probe open").record(opened - connected)
    timings.timing("probe first ack").record(acked - opened)
    timings.timing("probe total").record(acked - started)
    await editor.close()
