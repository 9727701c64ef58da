"""Helpers for the error-code tests: provoke an error, then prove the socket still works."""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from tests.server.wsclient import Message, WsClient

_ping_ids = itertools.count(1)


async def provoke(ws: WsClient, payload: Message | list[Any] | str | bytes, code: str) -> Message:
    """Send ``payload`` (a message, or a raw frame) and return the ``error`` it must cause."""
    if isinstance(payload, str | bytes):
        await ws.send_raw(payload)
    else:
        await ws.ws.send_bytes(orjson.dumps(payload))
    error = await ws.expect_type("error")
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    return error


async def still_alive(ws: WsClient) -> None:
    """The connection still answers a valid message."""
    ping_id = next(_ping_ids)
    await ws.send({"type": "ping", "id": ping_id})
    await ws.expect_type("pong", id=ping_id)
    assert not [m for m in ws.received if m["type"] == "error"], ws.received
