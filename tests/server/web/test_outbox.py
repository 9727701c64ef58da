"""The per-socket outbox over real sockets: messages of one loop turn share a frame, and a client
that stops reading is cut off without slowing down the clients that read."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer, get_port_socket

from server.config import Limits, Settings
from server.web.app import make_app
from server.web.keys import HUB
from tests.server.app_server import AppServer
from tests.server.wsclient import WsClient

OP_CHARS = 16 * 1024
FRAMES, OPS_PER_FRAME = 12, 8  # 96 ops, 1.5 MiB to every subscriber
SEND_BUFFER = 512 * 1024


def submit(version: int, seq: int, op: list[Any], doc: str = "out") -> dict[str, Any]:
    return {"type": "submit", "doc": doc, "version": version, "seq": seq, "op": op}


async def test_ops_committed_in_one_turn_reach_a_subscriber_in_one_frame(connect) -> None:
    alice: WsClient = await connect("alice")
    bob: WsClient = await connect("bob")
    await alice.open("out")
    await bob.open("out")
    frames = bob.frames
    # one frame of three submits: one commit batch, published in one loop turn
    await alice.send(submit(0, 1, ["a"]), submit(1, 2, [1, "b"]), submit(2, 3, [2, "c"]))
    await bob.expect_type("op", version=3)
    assert bob.frames == frames + 1
    assert [m["version"] for m in bob.received if m["type"] == "op"] == [1, 2]
    bob.received.clear()

    # ops committed in separate turns travel in separate frames
    frames = bob.frames
    for seq in (4, 5):
        await alice.send(submit(seq - 1, seq, [seq - 1, "d"]))
        await bob.expect_type("op", version=seq)
    assert bob.frames == frames + 2


async def raw_subscriber(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """A client with a tiny receive buffer that opens the document and then never reads."""
    ws = await http.ws_connect(url, autoping=False)
    sock = ws.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    await ws.send_bytes(orjson.dumps({"type": "hello", "protocol": 1, "client": "slow"}))
    await ws.send_bytes(orjson.dumps({"type": "open", "doc": "out"}))
    await ws.send_bytes(
        orjson.dumps({"type": "presence", "doc": "out", "version": 0, "cursor": [0, 0]})
    )
    received: list[str] = []
    while "opened" not in received:
        received += [m["type"] for m in orjson.loads((await ws.receive(timeout=5)).data)]
    assert received == ["welcome", "opened"]
    return ws


async def read_until_closed(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """Read what the server managed to send, up to the close or the reset."""
    async with asyncio.timeout(30):
        while True:
            message = await ws.receive()
            if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                return message


def small_kernel_buffers(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    """The server's listening socket, with a small kernel send buffer for every accepted one.

    Loopback sockets otherwise grow their send buffers to megabytes, which would hide the
    outbox's own bound (it counts bytes the kernel has not taken yet).
    """
    sock = get_port_socket(host, port, family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
    return sock


@pytest.fixture
async def tight_server(settings: Settings) -> AsyncIterator[TestServer]:
    limits = Limits(max_send_buffer=SEND_BUFFER)
    app = make_app(replace(settings, limits=limits, heartbeat_seconds=60))
    server = AppServer(app, socket_factory=small_kernel_buffers)
    await server.start_server()
    yield server
    await server.close()


async def test_a_subscriber_that_stops_reading_is_cut_off_and_others_keep_up(
    tight_server, dial, http
) -> None:
    server = tight_server
    writer: WsClient = await dial(server, "writer")
    reader: WsClient = await dial(server, "reader")
    await writer.open("out")
    await reader.open("out")
    slow = await raw_subscriber(http, str(server.make_url("/v1/ws")))
    await reader.expect(lambda m: m["type"] == "presence" and m["client"] == "slow")
    doc = await server.app[HUB].document("out", create=False)
    assert len(doc.subscribers) == 3

    version, slowest = 0, 0.0
    for _ in range(FRAMES):  # a writer that the normal reader keeps up with
        batch = [
            submit(version + i, version + i + 1, ["x" * OP_CHARS]) for i in range(OPS_PER_FRAME)
        ]
        await writer.send(*batch)
        version += OPS_PER_FRAME
        await writer.expect_type("ack", version=version)
        acked = time.monotonic()
        await reader.expect_type("op", version=version)
        slowest = max(slowest, time.monotonic() - acked)
    assert slowest < 5.0  # generous: the normal reader was never held back by the slow one
    versions = [m["version"] for m in reader.received if m["type"] == "op"]
    expected = [v for v in range(1, version + 1) if v % OPS_PER_FRAME]  # the last of each popped
    assert versions == expected  # every op, in order, no gap

    # the server dropped the slow subscriber: the others see its presence cleared...
    await reader.expect(lambda m: m["type"] == "presence" and m["cursor"] is None, timeout=10)
    assert len(doc.subscribers) == 2
    closing = await read_until_closed(slow)  # ...and its socket: 4008, or cut hard
    assert slow.close_code == 4008 or closing.type in (
        aiohttp.WSMsgType.ERROR,
        aiohttp.WSMsgType.CLOSED,
    ), (closing, slow.close_code)
    assert slow.close_code != 1000
