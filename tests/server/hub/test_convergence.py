"""Many clients edit one document at once over real sockets; every replica converges.

Each client runs the ot.js client state machine (``Replica``) and edits at random moments, so
ops cross on the wire, get rebased by the server and transformed by the clients. At the end each
replica's text must equal the server's snapshot and a replay of the stored op log, and the log
must hold every acknowledged op exactly once.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from ot import TextOperation
from tests.server.replica import Replica
from tests.server.rest_log import fetch_document, fetch_ops, replay

CLIENTS = 24
EDITS_PER_CLIENT = 5
SEEDS = range(50)
PIECES = ["a", "bc", " ", "😀", "é", "🎉🎉", "\n", "xyz"]


def random_edit(rng: random.Random, text: str) -> TextOperation:
    """A random insert, delete or replace (emoji included) that fits ``text``."""
    if text and rng.random() < 0.4:
        position = rng.randrange(len(text))
        count = rng.randint(1, min(4, len(text) - position))
        insert = rng.choice(["", rng.choice(PIECES)])
        return TextOperation.from_edit(position, count, insert)
    return TextOperation.from_edit(rng.randint(0, len(text)), 0, rng.choice(PIECES))


async def edit_randomly(replica: Replica, rng: random.Random, edits: int) -> None:
    """Edit at random moments: sometimes right away (ops pile up in the buffer), sometimes
    only after a few loop turns or once the previous op is acknowledged."""
    for _ in range(edits):
        for _ in range(rng.randrange(8)):
            await asyncio.sleep(0)
        if rng.random() < 0.3:
            await replica.synchronized()
        await replica.edit(random_edit(rng, replica.text))


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_concurrent_edits_converge(seed: int, connect, server, http) -> None:
    doc = f"conv-{seed}"
    replicas = [Replica(f"client-{i}", doc) for i in range(CLIENTS)]
    sockets = await asyncio.gather(*(connect(r.client_id) for r in replicas))
    await asyncio.gather(*(r.attach(ws) for r, ws in zip(replicas, sockets, strict=True)))

    rngs = [random.Random(seed * 1000 + i) for i in range(CLIENTS)]
    await asyncio.gather(
        *(edit_randomly(r, rng, EDITS_PER_CLIENT) for r, rng in zip(replicas, rngs, strict=True))
    )
    await asyncio.gather(*(r.synchronized() for r in replicas))
    final = await fetch_document(http, server.make_url(""), doc)
    await asyncio.gather(*(r.synchronized(final["version"]) for r in replicas))

    ops = await fetch_ops(http, server.make_url(""), doc, page=7)
    assert replay(ops) == final["text"]
    assert all(r.text == final["text"] for r in replicas), [r.text for r in replicas]
    committed = sorted((e["client"], e["seq"]) for e in ops)
    acked = sorted((r.client_id, seq) for r in replicas for seq in r.acked)
    assert committed == acked  # every acknowledged op is in the log, and only once
    for replica in replicas:
        assert [e["version"] for e in ops if e["client"] == replica.client_id] == sorted(
            replica.acked.values()
        )
