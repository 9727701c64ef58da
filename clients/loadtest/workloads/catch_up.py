"""``catch-up``: a client that was offline while ``offline_ops`` ops were committed reconnects;
how long until it has converged?

Each round the client closes its socket, makes ``offline_edits`` edits of its own while away,
and a writer commits ``offline_ops`` ops one after the other. Then the client reconnects and
reopens the document from the version it knew: it applies the missed ops, resubmits its own
(same seq), and is converged once its op is acknowledged and its text equals the writer's at the
same version. That time, from the start of the reconnect, is the ``converge`` latency.
"""

from __future__ import annotations

import asyncio
import time

from clients.loadtest.editor import EditGate, Editor
from clients.loadtest.options import LoadOptions
from clients.loadtest.part import PartEnv, client_id, doc_id


def documents(options: LoadOptions, run_id: str) -> list[str]:
    return [doc_id(run_id, 0)]


async def run_part(env: PartEnv) -> None:
    doc = doc_id(env.plan.run_id, 0)
    writer_gate = EditGate()
    writer = Editor(client_id(env.plan.run_id, 0), env.context(writer_gate), closed_loop=True)
    env.editors.append(writer)
    await writer.connect()
    await writer.open(doc)
    await env.connect([(client_id(env.plan.run_id, 1), [doc], False)])
    away = env.editors[-1]
    await env.rendezvous.wait()
    for _ in range(env.options.rounds):
        await _round(env, writer, writer_gate, away, doc)
    await env.rendezvous.wait()
    await env.check_convergence()


async def _round(env: PartEnv, writer: Editor, gate: EditGate, away: Editor, doc: str) -> None:
    options = env.options
    await away.close()
    replica = away.replicas[doc]
    for _ in range(options.offline_edits):
        away.edit(replica, time.perf_counter())  # queued nowhere: resubmitted on reconnect
    gate.open, gate.budget = True, options.offline_ops
    gate.exhausted.clear()
    writer.start_closed_loop()
    await writer.flush()
    async with asyncio.timeout(options.drain_timeout):
        await gate.exhausted.wait()
        await _settled(writer, doc)
    started = time.perf_counter()
    async with asyncio.timeout(options.drain_timeout):
        await away.connect()
        await away.open(doc, replica)
        await _settled(away, doc)
        while writer.replicas[doc].version < replica.version:
            writer.changed.clear()
            await writer.changed.wait()
    env.stats.timing("converge").record(time.perf_counter() - started)
    if replica.text != writer.replicas[doc].text:
        env.stats.diverged.append(f"{away.client_id}: text differs after catching up")


async def _settled(editor: Editor, doc: str) -> None:
    replica = editor.replicas[doc]
    while replica.pending and not replica.broken:
        editor.changed.clear()
        await editor.changed.wait()
