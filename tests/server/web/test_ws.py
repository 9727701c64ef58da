"""The WebSocket transport: the frame size limit (close 1009) and array frames."""

from __future__ import annotations

import orjson

from server.config import Limits
from tests.server.wsclient import WsClient

LIMIT = 1024


def ping_of_size(size: int) -> bytes:
    """A valid ``ping`` frame of exactly ``size`` bytes."""
    frame = orjson.dumps({"type": "ping", "id": ""})
    return orjson.dumps({"type": "ping", "id": "x" * (size - len(frame))})


async def test_a_frame_over_max_frame_bytes_closes_with_1009(start_server, dial) -> None:
    server = await start_server(limits=Limits(max_frame_bytes=LIMIT))
    bystander: WsClient = await dial(server, "bystander")
    await bystander.open("d")
    ws: WsClient = await dial(server, "alice")
    await ws.open("d")

    await ws.send_raw(ping_of_size(LIMIT))  # exactly the limit is fine
    assert len((await ws.expect_type("pong"))["id"]) > LIMIT - 40
    await ws.send_raw(ping_of_size(LIMIT + 1))
    assert await ws.wait_closed() == 1009

    again: WsClient = await dial(server, "alice")  # the server carries on
    assert (await again.open("d"))["type"] == "opened"
    await again.send({"type": "submit", "doc": "d", "version": 0, "seq": 1, "op": ["ok"]})
    await again.expect_type("ack", seq=1)
    assert (await bystander.expect_type("op"))["op"] == ["ok"]


async def test_a_frame_may_carry_several_messages_answered_in_order(connect) -> None:
    ws: WsClient = await connect("alice")
    await ws.send(
        {"type": "ping", "id": 1},
        {"type": "open", "doc": "arr"},
        {"type": "submit", "doc": "arr", "version": 0, "seq": 1, "op": ["a"]},
        {"type": "ping", "id": 2},
    )
    await ws.expect_type("ack", seq=1)
    await ws.expect_type("pong", id=2)
    assert [m["type"] for m in ws.received] == ["pong", "opened"]  # in the order asked
