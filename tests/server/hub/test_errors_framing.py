"""Frames that are not protocol messages, and the handshake rules: each error names what was
wrong, and the connection carries on (except for an unsupported protocol, closed with 4000)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.hub.errors import provoke, still_alive
from tests.server.wsclient import WsClient

NOT_MESSAGES = {
    "not JSON": "{not json",
    "a JSON number": "42",
    "a JSON string": '"hello"',
    "null": "null",
    "an empty array": "[]",
    "an array of numbers": "[1, 2]",
    "an array with one non-object": '[{"type": "ping", "id": 1}, 3]',
    "invalid UTF-8": b"\xff\xfe{",
}


@pytest.mark.parametrize("frame", NOT_MESSAGES.values(), ids=NOT_MESSAGES.keys())
async def test_a_frame_that_is_not_a_message_is_malformed(connect, frame: str | bytes) -> None:
    ws: WsClient = await connect("alice")
    await provoke(ws, frame, "malformed_message")
    await still_alive(ws)


@pytest.mark.parametrize("message", [{}, {"type": "nope"}, {"type": 5}, {"type": None}])
async def test_an_unknown_or_missing_type_is_unknown_type(connect, message: Any) -> None:
    ws: WsClient = await connect("alice")
    await provoke(ws, message, "unknown_type")
    await still_alive(ws)


@pytest.mark.parametrize(
    "message", [{"type": "open", "doc": "d"}, {"type": "ping", "id": 1}, {"type": "close"}]
)
async def test_a_message_before_hello_is_handshake_required(connect, message: Any) -> None:
    ws: WsClient = await connect()
    await provoke(ws, message, "handshake_required")
    await ws.send({"type": "hello", "protocol": 1, "client": "late"})
    assert (await ws.expect_type("welcome"))["client"] == "late"
    await still_alive(ws)


async def test_a_second_hello_is_already_handshaken(connect) -> None:
    ws: WsClient = await connect("alice")
    await provoke(ws, {"type": "hello", "protocol": 1, "client": "mallory"}, "already_handshaken")
    await ws.open("doc")  # still alice, still working
    await ws.send({"type": "submit", "doc": "doc", "version": 0, "seq": 1, "op": ["x"]})
    await ws.expect_type("ack", seq=1)


@pytest.mark.parametrize(
    "hello",
    [
        {"type": "hello", "client": "c"},
        {"type": "hello", "protocol": 2, "client": "c"},
        {"type": "hello", "protocol": "1", "client": "c"},
        {"type": "hello", "protocol": True, "client": "c"},
    ],
    ids=["missing", "2", "string", "bool"],
)
async def test_an_unsupported_protocol_closes_with_4000(connect, hello: Any) -> None:
    ws: WsClient = await connect()
    await provoke(ws, hello, "unsupported_protocol")
    assert await ws.wait_closed() == 4000
    again: WsClient = await connect("c")  # the server carries on
    await still_alive(again)


@pytest.mark.parametrize(
    "hello",
    [
        {"type": "hello", "protocol": 1},
        {"type": "hello", "protocol": 1, "client": 7},
        {"type": "hello", "protocol": 1, "client": "has space"},
        {"type": "hello", "protocol": 1, "client": "x" * 101},
    ],
    ids=["missing", "number", "bad characters", "too long"],
)
async def test_a_bad_client_id_is_invalid_field(connect, hello: Any) -> None:
    ws: WsClient = await connect()
    error = await provoke(ws, hello, "invalid_field")
    assert "client" in error["message"]
    await provoke(ws, {"type": "ping", "id": 1}, "handshake_required")  # not handshaken
    await ws.send({"type": "hello", "protocol": 1, "client": "ok"})
    await ws.expect_type("welcome")
