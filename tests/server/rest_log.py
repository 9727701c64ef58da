"""Read a document back over the REST API: its snapshot, its whole op log, and a replay of it."""

from __future__ import annotations

from typing import Any

import aiohttp
from yarl import URL

from ot import TextOperation


async def fetch_document(http: aiohttp.ClientSession, base: URL, doc: str) -> dict[str, Any]:
    """``GET /v1/docs/{doc}``: ``{"doc", "version", "text"}``."""
    async with http.get(base / "v1/docs" / doc) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def fetch_ops(
    http: aiohttp.ClientSession, base: URL, doc: str, *, page: int = 100
) -> list[dict[str, Any]]:
    """Every op of the document, paging with ``since`` = the last op's version."""
    ops: list[dict[str, Any]] = []
    while True:
        url = (base / "v1/docs" / doc / "ops").with_query(since=len(ops), limit=page)
        async with http.get(url) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        assert [e["version"] for e in body["ops"]] == list(
            range(len(ops) + 1, len(ops) + 1 + len(body["ops"]))
        ), "the op log has a gap or a duplicate"
        ops.extend(body["ops"])
        if not body["has_more"]:
            assert len(ops) == body["version"]
            return ops


def replay(ops: list[dict[str, Any]]) -> str:
    """The text the op log produces when applied to the empty document."""
    text = ""
    for entry in ops:
        text = TextOperation.from_json(entry["op"]).apply(text)
    return text
