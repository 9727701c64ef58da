"""Python clients and REST submitters editing one document at once all converge."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import aiohttp

from clients.python import Document, open_document
from ot import TextOperation
from tests.clients.python.conftest import FAST, LiveServer, get_doc, op_log

TIMEOUT = 30
ALPHABET = "abcxyz 😀é\n"


def random_edit(rng: random.Random, text: str) -> TextOperation:
    position = rng.randint(0, len(text))
    delete = rng.randint(0, min(3, len(text) - position)) if rng.random() < 0.4 else 0
    insert = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 4)))
    return TextOperation.from_edit(position, delete, insert or "+")


async def python_editor(doc: Document, seed: int, edits: int) -> None:
    rng = random.Random(seed)
    for _ in range(edits):
        doc.apply(random_edit(rng, doc.text))
        if rng.random() < 0.5:
            await doc.flush()  # let the socket and other clients run between some edits


async def rest_editor(http: aiohttp.ClientSession, url: str, name: str, seed: int) -> None:
    """Reads the document, edits the text it read, posts the op against the version it read."""
    rng = random.Random(seed)
    for seq in range(1, 16):
        current = await get_doc(http, url, "mixed")
        op = random_edit(rng, current["text"])
        body = {"client": name, "seq": seq, "version": current["version"], "op": op.to_json()}
        async with http.post(f"{url}/v1/docs/mixed/ops", json=body) as response:
            assert response.status == 200, await response.text()


async def caught_up(doc: Document, version: int) -> None:
    await doc.wait_for(lambda: doc.version == version)


async def test_python_and_rest_clients_converge(
    live: LiveServer, http: aiohttp.ClientSession
) -> None:
    docs = [await open_document(live.url, "mixed", backoff=FAST) for _ in range(4)]
    async with asyncio.timeout(TIMEOUT):
        await asyncio.gather(
            *(python_editor(doc, seed, 40) for seed, doc in enumerate(docs)),
            *(rest_editor(http, live.url, f"rest-{i}", 100 + i) for i in range(3)),
        )
        for doc in docs:
            await doc.wait_synced()
        head = (await get_doc(http, live.url, "mixed"))["version"]
        for doc in docs:
            await caught_up(doc, head)
    server = await get_doc(http, live.url, "mixed")
    assert {doc.text for doc in docs} == {server["text"]}
    log = await op_log(http, live.url, "mixed")
    assert [entry["version"] for entry in log] == list(range(1, head + 1))
    counts = Counter((entry["client"], entry["seq"]) for entry in log)
    assert max(counts.values()) == 1
    assert sum(1 for client, _ in counts if str(client).startswith("rest-")) == 45
    for doc in docs:
        await doc.close()
