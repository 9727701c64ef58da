"""Opening a document while others are committing to it: the snapshot (or the catch-up from a
known version) and the ops delivered afterwards join without a gap or a duplicate."""

from __future__ import annotations

import asyncio
import random

import pytest

from ot import TextOperation
from tests.server.hub.test_convergence import random_edit
from tests.server.replica import Replica
from tests.server.rest_log import fetch_document, fetch_ops, replay
from tests.server.wsclient import WsClient

WRITERS = 4
EDITS = 30


async def keep_editing(replica: Replica, rng: random.Random, stop: asyncio.Event) -> None:
    """Edit until ``stop`` is set, yielding a random number of loop turns in between."""
    edits = 0
    while not stop.is_set() or edits < EDITS:
        for _ in range(rng.randrange(4)):
            await asyncio.sleep(0)
        await replica.edit(random_edit(rng, replica.text))
        edits += 1
        if edits % 5 == 0:
            await replica.synchronized()


@pytest.mark.parametrize("seed", range(6))
async def test_opening_mid_stream_misses_nothing_and_repeats_nothing(
    seed: int, connect, server, http
) -> None:
    rng = random.Random(seed)
    doc = f"mid-{seed}"
    writers = [Replica(f"writer-{i}", doc) for i in range(WRITERS)]
    for writer in writers:
        await writer.attach(await connect(writer.client_id))
    stop = asyncio.Event()
    editing = [
        asyncio.create_task(keep_editing(w, random.Random(seed * 100 + i), stop))
        for i, w in enumerate(writers)
    ]
    await writers[0].wait_until(lambda r: r.client.version >= rng.randint(5, 40))

    late = Replica("late", doc)  # opens for the snapshot while commits are in flight
    await late.attach(await connect("late"))
    raw: WsClient = await connect("raw")  # resumes from a version it knows
    opened_at = late.open_version
    assert opened_at is not None
    known = rng.randint(0, opened_at)
    resumed = await raw.open(doc, version=known)
    stop.set()
    await asyncio.gather(*editing)
    await asyncio.gather(*(w.synchronized() for w in writers))
    head = await fetch_document(http, server.make_url(""), doc)
    await late.synchronized(head["version"])

    assert late.versions, "the late client opened after the writers finished: nothing tested"
    assert late.versions == list(range(opened_at + 1, head["version"] + 1))
    assert late.text == head["text"] == replay(await fetch_ops(http, server.make_url(""), doc))
    live = [
        await raw.expect_type("op", version=v)
        for v in range(resumed["version"] + 1, head["version"] + 1)
    ]
    delivered = [e["version"] for e in resumed["ops"]] + [m["version"] for m in live]
    assert delivered == list(range(known + 1, head["version"] + 1))
    assert not [m for m in raw.received if m["type"] == "op"]  # and nothing twice
    ops = await fetch_ops(http, server.make_url(""), doc)
    text = replay(ops[:known])
    for entry in resumed["ops"] + live:
        text = TextOperation.from_json(entry["op"]).apply(text)
    assert text == head["text"]
