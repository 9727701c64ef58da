"""Starting documents: each run's documents are new (their ids carry the run id) and get their
starting text through the REST API, as one op at version 0."""

from __future__ import annotations

import asyncio

import aiohttp

from clients.loadtest.edits import starting_text
from clients.loadtest.target import Target

SEED_CONCURRENCY = 32


class SeedError(Exception):
    """The server refused a starting document."""


async def seed_documents(
    http: aiohttp.ClientSession, target: Target, docs: list[str], size: int, client: str
) -> None:
    """POST each document's starting text (``size`` characters), a few at a time."""
    if size <= 0:
        return
    limit = asyncio.Semaphore(SEED_CONCURRENCY)

    async def seed(doc: str) -> None:
        body = {"client": client, "seq": 1, "version": 0, "op": [starting_text(size, doc)]}
        async with limit, http.post(target.doc_url(doc, "/ops"), json=body) as response:
            if response.status != 200:
                raise SeedError(f"seeding {doc}: HTTP {response.status}: {await response.text()}")

    async with asyncio.TaskGroup() as group:
        for doc in docs:
            group.create_task(seed(doc))
