"""The editing workloads: every client is an editor with a replica of its document (the first
``replicas`` clients keep its text, the others only its length: see ``Replica``); writers edit in
closed loop (the next edit right after the ack) or open loop (at a fixed rate, latency measured
from each edit's intended time), subscribers only receive.

- ``hot-doc``: ``editors`` writers on one document.
- ``many-docs``: ``editors`` writers over ``docs`` documents (writer i on document i mod docs).
- ``fan-out``: ``writers`` writers and ``subscribers`` readers on one document.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from clients.loadtest.editor import Editor
from clients.loadtest.options import LoadOptions
from clients.loadtest.part import PartEnv, client_id, doc_id
from clients.loadtest.replica import Replica


@dataclass(frozen=True, slots=True)
class Role:
    """One client of the run: its index, its document and whether it writes."""

    index: int
    doc: int
    writes: bool


def roles(options: LoadOptions) -> list[Role]:
    """Every client of an editing run, in a fixed order (the same in every process)."""
    if options.workload == "hot-doc":
        return [Role(i, 0, True) for i in range(options.editors)]
    if options.workload == "many-docs":
        return [Role(i, i % options.docs, True) for i in range(options.editors)]
    writers = [Role(i, 0, True) for i in range(options.writers)]
    readers = [Role(options.writers + i, 0, False) for i in range(options.subscribers)]
    return writers + readers


def documents(options: LoadOptions, run_id: str) -> list[str]:
    """The documents to seed before the run."""
    count = options.docs if options.workload == "many-docs" else 1
    return [doc_id(run_id, i) for i in range(count)]


async def run_part(env: PartEnv) -> None:
    """Connect this part's clients, load the server, drain, check convergence."""
    plan, options = env.plan, env.options
    mine = [role for role in roles(options) if plan.owns(role.index)]
    closed_loop = not options.open_loop
    full = options.replicas  # clients below this index keep the text (None: all do)
    lean = {client_id(plan.run_id, r.index) for r in mine if full is not None and r.index >= full}
    await env.connect(
        ((client_id(plan.run_id, r.index), [doc_id(plan.run_id, r.doc)], r.writes and closed_loop)
         for r in mine),
        lean=lean,
    )  # fmt: skip
    writers = [e for e, r in zip(_in_role_order(env, mine), mine, strict=True) if r.writes]
    await env.rendezvous.wait()  # everyone connected
    if closed_loop:
        started = time.perf_counter()
        for editor in writers:
            editor.start_closed_loop()
            await editor.flush()
        await env.measure(started)
    else:
        await _open_loop(env, writers, sum(r.writes for r in roles(options)))
    await env.drain()
    await env.rendezvous.wait()  # nobody sends any more
    await env.check_convergence()


def _in_role_order(env: PartEnv, mine: list[Role]) -> list[Editor]:
    """The part's editors in the order of its roles (they connect concurrently)."""
    by_client = {editor.client_id: editor for editor in env.editors}
    return [by_client[client_id(env.plan.run_id, role.index)] for role in mine]


async def _open_loop(env: PartEnv, writers: list[Editor], all_writers: int) -> None:
    """Every writer edits at ``rate / all_writers`` per second, each with a random phase."""
    assert env.options.rate is not None
    interval = all_writers / env.options.rate
    rnd = random.Random(f"{env.options.seed}-phase-{env.plan.index}")
    start = time.perf_counter()
    stop = start + env.options.warmup + env.options.duration
    schedules = [
        asyncio.create_task(_schedule(env, editor, start + rnd.random() * interval, interval, stop))
        for editor in writers
    ]
    try:
        await env.measure(started=start)
    finally:
        env.gate.open = False
        await asyncio.gather(*schedules)


async def _schedule(
    env: PartEnv, editor: Editor, first: float, interval: float, stop: float
) -> None:
    """Edit at ``first``, ``first + interval``, ... until ``stop``: each edit carries its
    intended time, so a late loop shows as latency instead of hiding it."""
    replica: Replica = next(iter(editor.replicas.values()))
    intended = first
    while intended < stop:
        delay = intended - time.perf_counter()
        await asyncio.sleep(max(0.0, delay))  # 0 still yields, when the loop is behind
        if not env.gate.take():
            return
        editor.edit(replica, intended)
        await editor.flush()
        intended += interval
