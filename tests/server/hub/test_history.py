"""History beyond memory: old bases and resumes are served from storage, and a restarted server
rebuilds each document from its latest snapshot plus the ops after it, still exactly-once."""

from __future__ import annotations

import asyncio
from typing import Any

from server.config import HubSettings
from server.web.keys import HUB, STORE
from tests.server.rest_log import fetch_document, fetch_ops, replay
from tests.server.wsclient import WsClient

SMALL = HubSettings(history_limit=2, snapshot_every=3)


def submit(version: int, seq: int, op: list[Any]) -> dict[str, Any]:
    return {"type": "submit", "doc": "hist", "version": version, "seq": seq, "op": op}


async def write_digits(ws: WsClient, count: int) -> None:
    """Append "1", "2", ... one op at a time: version v holds the first v digits."""
    for version in range(count):
        op: list[Any] = [version, str(version + 1)] if version else ["1"]
        await ws.send(submit(version, version + 1, op))
        await ws.expect_type("ack", seq=version + 1)


async def test_old_bases_and_resumes_are_served_from_storage(start_server, dial, http) -> None:
    server = await start_server(hub=SMALL)
    alice: WsClient = await dial(server, "alice")
    await alice.open("hist")
    await write_digits(alice, 7)

    bob: WsClient = await dial(server, "bob")
    opened = await bob.open("hist", version=1)  # memory has only versions 6 and 7
    assert [e["version"] for e in opened["ops"]] == list(range(2, 8))
    await bob.send(submit(1, 1, [1, "B"]))  # made against "1": rebased past six ops
    assert (await bob.expect_type("ack"))["version"] == 8
    head = await fetch_document(http, server.make_url(""), "hist")
    assert head["text"] == "1B234567"
    assert replay(await fetch_ops(http, server.make_url(""), "hist")) == head["text"]


async def test_a_restarted_server_rebuilds_documents_and_still_knows_every_seq(
    start_server, dial, http
) -> None:
    first = await start_server(hub=SMALL)
    alice: WsClient = await dial(first, "alice")
    await alice.open("hist")
    await write_digits(alice, 7)  # snapshots at 3 and 6, op 7 only in the log
    await alice.close()
    await first.close()

    server = await start_server(hub=SMALL)  # same data directory
    head = await fetch_document(http, server.make_url(""), "hist")
    assert (head["text"], head["version"]) == ("1234567", 7)
    alice = await dial(server, "alice")
    await alice.open("hist")
    for seq, version in [(1, 1), (7, 7)]:  # repeats after a restart: not applied again
        await alice.send(submit(version - 1, seq, ["x"]))
        ack = await alice.expect_type("ack", seq=seq)
        assert (ack["version"], ack.get("duplicate")) == (version, True)
    await alice.send(submit(7, 8, [7, "8"]))
    assert (await alice.expect_type("ack", seq=8))["version"] == 8
    assert replay(await fetch_ops(http, server.make_url(""), "hist")) == "12345678"


async def test_keep_ops_trims_the_stored_log_behind_each_snapshot(start_server, dial, http) -> None:
    """With ``keep_ops``, the server itself compacts: each snapshot leaves the newest ops in the
    log; older versions are then ``resync_required`` over REST, and the document reloads."""
    settings = HubSettings(history_limit=2, snapshot_every=3, keep_ops=2)
    server = await start_server(hub=settings)
    alice: WsClient = await dial(server, "alice")
    await alice.open("hist")
    await write_digits(alice, 7)  # snapshots at 3 (drops ops to 1) and 6 (to 4)
    async with asyncio.timeout(10):  # snapshots are saved in the background, after the acks
        await server.app[HUB].drain()
    assert await server.app[STORE].oldest_version("hist") == 4
    base = server.make_url("")
    async with http.get(base / "v1/docs/hist/ops" % {"since": "0"}) as response:
        assert response.status == 410
        assert (await response.json())["error"]["code"] == "resync_required"
    async with http.get(base / "v1/docs/hist/ops" % {"since": "4"}) as response:
        assert [e["version"] for e in (await response.json())["ops"]] == [5, 6, 7]
    bob: WsClient = await dial(server, "bob")
    await provoke_resync(bob)
    opened = await bob.open("hist")
    assert (opened["text"], opened["version"]) == ("1234567", 7)


async def provoke_resync(ws: WsClient) -> None:
    await ws.send({"type": "open", "doc": "hist", "version": 1})
    error = await ws.expect_type("error")
    assert (error["code"], error["version"]) == ("resync_required", 7), error
