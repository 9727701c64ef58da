"""Storage failures reach clients as ``unavailable`` (REST 503): nothing is committed, the
connection stays open, and the same submission succeeds once storage is back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from server.config import HubSettings
from server.web.keys import SETTINGS, STORE
from tests.server.hub.errors import provoke, still_alive
from tests.server.rest_log import fetch_document
from tests.server.wsclient import WsClient


def submit(version: int, seq: int, op: list[Any], doc: str = "u") -> dict[str, Any]:
    return {"type": "submit", "doc": doc, "version": version, "seq": seq, "op": op}


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock from another connection, as another process could."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


async def test_a_commit_that_storage_refuses_is_unavailable_and_can_be_resubmitted(
    server, connect, http
) -> None:
    """A real failure: another process holds the database's write lock, so the store's write
    times out (SQLite's busy timeout, 5 s) and the op is not committed."""
    ws: WsClient = await connect("alice")
    await ws.open("u")
    await ws.send(submit(0, 1, ["a"]))
    await ws.expect_type("ack", seq=1)
    with write_locked(server.app[SETTINGS].data_dir / "coedit.db"):
        await ws.send(submit(1, 2, [1, "b"]))
        error = await ws.expect(lambda m: m["type"] == "error", timeout=20)
        assert (error["code"], error["doc"], error["seq"]) == ("unavailable", "u", 2), error
        await still_alive(ws)
    await ws.send(submit(1, 2, [1, "b"]))  # "resubmit later (same seq)"
    assert (await ws.expect_type("ack", seq=2))["version"] == 2
    assert (await fetch_document(http, server.make_url(""), "u"))["text"] == "ab"


async def test_every_storage_path_maps_to_unavailable(start_server, dial, http) -> None:
    """The store closed underneath a running server: opens, commits and REST reads that need
    it fail with ``unavailable`` / 503, and what is in memory is still served."""
    server = await start_server(hub=HubSettings(history_limit=2))
    ws: WsClient = await dial(server, "alice")
    await ws.open("u")
    for seq in range(1, 5):
        await ws.send(submit(seq - 1, seq, [seq - 1, "x"] if seq > 1 else ["x"]))
        await ws.expect_type("ack", seq=seq)
    await server.app[STORE].close()

    error = await provoke(ws, submit(4, 5, ["y"]), "unavailable")
    assert (error["doc"], error["seq"]) == ("u", 5)
    error = await provoke(ws, {"type": "open", "doc": "never-loaded"}, "unavailable")
    assert error["doc"] == "never-loaded"
    await still_alive(ws)

    base = server.make_url("")
    assert (await fetch_document(http, base, "u"))["text"] == "xxxx"  # served from memory
    for method, path, body in [
        ("POST", "/v1/docs/u/ops", {"client": "rest", "seq": 1, "version": 4, "op": ["z"]}),
        ("GET", "/v1/docs/never-loaded", None),
        ("GET", "/v1/docs/u/ops?since=0", None),  # older than the in-memory history
    ]:
        async with http.request(method, server.make_url(path), json=body) as response:
            assert response.status == 503, (path, await response.text())
            assert (await response.json())["error"]["code"] == "unavailable"
    async with http.get(server.make_url("/readyz")) as response:
        assert response.status == 503
