"""Abuse limits over WebSocket: message rate per connection, op rate and open documents per
user. Excess gets a ``rate_limited`` (or ``too_many_docs``) error and the socket stays up."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.auth.settings import AbuseLimits, AuthSettings
from tests.server.auth.conftest import AUTH, Join, Rest, submit


@pytest.fixture
def auth_settings() -> AuthSettings:
    limits = AbuseLimits(
        messages_per_second=0.1,
        message_burst=6,
        ops_per_second=0.1,
        op_burst=3,
        max_user_open_docs=3,
    )
    return replace(AUTH, limits=limits)


async def test_messages_over_the_connection_rate_are_refused(join: Join) -> None:
    ws = await join("alice")  # the hello took one token
    await ws.send(*({"type": "ping", "id": n} for n in range(8)))
    pongs = [await ws.expect_type("pong", id=n) for n in range(5)]
    assert len(pongs) == 5
    errors = [await ws.expect_type("error") for _ in range(3)]
    assert {e["code"] for e in errors} == {"rate_limited"}
    assert all(e["retry_after"] > 0 for e in errors)
    assert not ws.ws.closed


async def test_ops_over_the_users_rate_are_refused_over_all_connections(
    join: Join, rest: Rest
) -> None:
    first, second = await join("alice", "a1"), await join("alice", "a2")
    await first.open("d")
    await second.open("d")
    await first.send(submit("d", 1, 0, ["a"]), submit("d", 2, 1, ["b"]))
    await first.expect_type("ack", seq=2)
    await second.send(submit("d", 1, 2, ["c"]), submit("d", 2, 3, ["d"]))
    await second.expect_type("ack", seq=1)
    limited = await second.expect_type("error", seq=2)
    assert limited["code"] == "rate_limited" and limited["doc"] == "d"
    version, _ = await rest.text("alice", "d")
    assert version == 3


async def test_open_documents_are_limited_per_user(join: Join) -> None:
    first, second = await join("alice", "a1"), await join("alice", "a2")
    for doc in ("d1", "d2"):
        assert (await first.open(doc))["type"] == "opened"
    assert (await second.open("d3"))["type"] == "opened"
    assert (await second.open("d4"))["code"] == "too_many_docs"
    await first.send({"type": "close", "doc": "d1"})
    await first.expect_type("closed", doc="d1")
    assert (await second.open("d4"))["type"] == "opened"
