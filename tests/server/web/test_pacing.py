"""Broadcast pacing over real sockets: a busy connection's relayed ops share one frame, a quiet
one gets the next op at once, and acks never wait (``server.web.pacer``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from server.web.pacer import Pacer
from tests.server.conftest import ServerFactory
from tests.server.web.test_outbox import submit
from tests.server.wsclient import WsClient

Pair = tuple[WsClient, WsClient]


@pytest.fixture
async def paced_pair(
    start_server: ServerFactory, http: aiohttp.ClientSession, request: pytest.FixtureRequest
) -> AsyncIterator[Pair]:
    """Alice and Bob with document "out" open, on a server pacing at ``request.param`` s."""
    server = await start_server(broadcast_interval=request.param)
    url = str(server.make_url("/v1/ws"))
    alice = await WsClient.connect(http, url, client_id="alice")
    bob = await WsClient.connect(http, url, client_id="bob")
    await alice.open("out")
    await bob.open("out")
    yield alice, bob
    await alice.close()
    await bob.close()


async def commit_three(alice: WsClient) -> None:
    """Three ops, each sent once the previous one is acked."""
    for seq in (1, 2, 3):
        await alice.send(submit(seq - 1, seq, ["x"]))
        await alice.expect_type("ack", version=seq)


@pytest.mark.parametrize("paced_pair", [1.0], indirect=True)
async def test_a_busy_connection_gets_the_ops_of_an_interval_in_one_frame(
    paced_pair: Pair,
) -> None:
    alice, bob = paced_pair
    frames = bob.frames  # Bob was just sent "opened": he is busy for the next second
    await commit_three(alice)
    assert bob.frames == frames, "the acks came back while Bob's ops waited"
    await bob.expect_type("op", version=3)
    assert bob.frames == frames + 1
    assert [m["version"] for m in bob.received if m["type"] == "op"] == [1, 2]


@pytest.mark.parametrize("paced_pair", [0.3], indirect=True)
async def test_a_quiet_connection_gets_the_next_op_at_once(paced_pair: Pair) -> None:
    alice, bob = paced_pair
    await asyncio.sleep(0.4)  # longer than the interval: Bob is now quiet
    frames = bob.frames
    await commit_three(alice)
    await bob.expect_type("op", version=3)
    # op 1 went at once, in a frame of its own; ops 2 and 3 then waited and shared one
    assert bob.frames == frames + 2


@pytest.mark.parametrize("paced_pair", [0.0], indirect=True)
async def test_no_pacing_sends_a_frame_per_commit(paced_pair: Pair) -> None:
    alice, bob = paced_pair
    frames = bob.frames
    await commit_three(alice)
    await bob.expect_type("op", version=3)
    assert bob.frames == frames + 3


async def test_a_failing_flush_does_not_hold_back_the_others_of_its_tick() -> None:
    pacer = Pacer(0.01)
    flushed: list[str] = []
    done = asyncio.Event()

    def broken() -> None:
        raise OSError("the socket went away")

    def last() -> None:
        flushed.append("last")
        done.set()

    pacer.defer(lambda: flushed.append("first"))
    pacer.defer(broken)
    pacer.defer(last)
    await asyncio.wait_for(done.wait(), timeout=5)
    assert flushed == ["first", "last"]
