"""The lean WebSocket over real sockets: what it newly owns (the codec's refusals, the close
handshake, the heartbeat, shutdown) and that an idle connection keeps no task."""

from __future__ import annotations

import asyncio
import struct

import pytest
from aiohttp.test_utils import TestServer

from server.config import Limits
from server.hub.session import Session
from server.observability import METRICS
from server.web import websocket
from server.web.keys import SESSIONS
from server.web.websocket import MAX_PONG_BACKLOG, WebSocketConnection
from tests.server.conftest import ServerFactory
from tests.server.web.log_watch import LogWatch
from tests.server.web.raw_client import (
    CLOSE,
    PING,
    PONG,
    TEXT,
    TIMEOUT,
    OpenRaw,
    awaiting,
    client_frame,
    hello,
)
from tests.server.wsclient import WsClient


async def test_an_idle_lean_connection_keeps_no_task(connect) -> None:
    ws: WsClient = await connect("alice")
    await ws.open("d")
    await ws.send({"type": "ping", "id": 1})
    await ws.expect_type("pong", id=1)
    names = [name for t in asyncio.all_tasks() for name in awaiting(t)]
    assert not [n for n in names if "WebSocketConnection" in n or n == "websocket"], names


async def test_pings_are_answered_and_the_peers_close_is_echoed(
    open_raw: OpenRaw, server: TestServer
) -> None:
    raw = await open_raw(server)
    await raw.upgrade()
    raw.send(client_frame(PING, b"are you there"))
    assert await raw.frame() == (PONG, b"are you there")
    raw.send(client_frame(CLOSE, struct.pack("!H", 4000) + b"bye"))
    assert await raw.close_code() == 4000  # the close handshake echoes the code
    assert await raw.closed_by_server()  # and the server closes TCP first (RFC 6455 §7.1.1)


async def test_an_unmasked_client_frame_closes_with_1002(
    open_raw: OpenRaw, server: TestServer
) -> None:
    raw = await open_raw(server)
    await raw.upgrade()
    raw.send(client_frame(TEXT, b'{"type": "ping", "id": 1}', masked=False))
    assert await raw.close_code() == 1002
    assert await raw.closed_by_server()


async def test_invalid_utf8_text_closes_with_1007(open_raw: OpenRaw, server: TestServer) -> None:
    raw = await open_raw(server)
    await raw.upgrade()
    raw.send(client_frame(TEXT, b'{"type": "ping", "id": "\xff"}'))
    assert await raw.close_code() == 1007


async def test_an_oversized_frame_closes_with_1009_before_its_payload_arrives(
    open_raw: OpenRaw,
    start_server: ServerFactory,
) -> None:
    server = await start_server(limits=Limits(max_frame_bytes=1024))
    raw = await open_raw(server)
    await raw.upgrade()
    raw.send(client_frame(TEXT, b"x" * 5000)[:20])  # the header says 5000: enough to refuse
    assert await raw.close_code() == 1009


async def test_the_heartbeat_closes_a_client_that_does_not_answer_pings(
    open_raw: OpenRaw,
    start_server: ServerFactory,
) -> None:
    server = await start_server(heartbeat_seconds=0.2)
    silent, answering = await open_raw(server), await open_raw(server)
    await silent.upgrade()
    await answering.upgrade()

    async def answer_pings() -> None:  # the connection stays open past the pong deadlines
        for _ in range(3):
            assert await answering.frame() == (PING, b"")
            answering.send(client_frame(PONG, b""))

    async def stay_silent() -> None:
        assert await silent.frame() == (PING, b"")
        assert await silent.closed_by_server()  # its pong never came

    await asyncio.gather(answer_pings(), stay_silent())


async def test_shutdown_closes_every_lean_connection_with_1001(
    start_server: ServerFactory, dial
) -> None:
    server = await start_server()
    alice: WsClient = await dial(server, "alice")
    bob: WsClient = await dial(server, "bob")
    await alice.open("d")
    closing = asyncio.create_task(server.close())
    assert await alice.wait_closed() == 1001
    assert await bob.wait_closed() == 1001
    await closing


async def test_reading_pauses_once_unhandled_messages_pass_64_kib_and_the_heartbeat_waits(
    open_raw: OpenRaw, server: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    handling, release = asyncio.Event(), asyncio.Event()
    taken: asyncio.Queue[WebSocketConnection] = asyncio.Queue()
    take = WebSocketConnection._take

    async def stuck(session: Session, message: str | bytes) -> None:
        handling.set()
        await release.wait()

    def counted(connection: WebSocketConnection, item: object) -> None:
        take(connection, item)  # type: ignore[arg-type]
        taken.put_nowait(connection)

    monkeypatch.setattr(Session, "receive_frame", stuck)
    monkeypatch.setattr(WebSocketConnection, "_take", counted)
    raw = await open_raw(server)
    await raw.upgrade()
    try:
        raw.send(client_frame(TEXT, b"x" * (256 << 10)))  # the message under way
        async with asyncio.timeout(TIMEOUT):
            await handling.wait()
            raw.send(client_frame(TEXT, b"y" * (30 << 10)) * 3)  # 90 KiB waiting behind it
            for _ in range(4):
                connection = await taken.get()
        assert not connection._transport.is_reading()  # type: ignore[union-attr]
        for _ in range(5):  # paused, the server cannot hear pongs: it must not give up on them
            connection.heartbeat_tick()
        assert not connection.closed and not connection._transport.is_closing()  # type: ignore[union-attr]
    finally:
        release.set()


async def test_pings_of_a_peer_that_does_not_read_stop_being_answered(
    open_raw: OpenRaw, server: TestServer
) -> None:
    raw = await open_raw(server)
    await raw.upgrade()
    raw.send(client_frame(PING, b"first"))
    assert await raw.frame() == (PONG, b"first")  # the connection is up and answering
    sessions = server.app[SESSIONS]
    connection = next(iter(sessions))
    assert isinstance(connection, WebSocketConnection)
    ping = client_frame(PING, b"p" * 125)
    for _ in range(400):  # 50 KB of pongs per call, the test client reading none of them
        connection.data_received(ping * 400)
    backlog = connection._transport.get_write_buffer_size()  # type: ignore[union-attr]
    assert backlog <= MAX_PONG_BACKLOG + 127  # at most one pong past the bound


async def test_a_session_that_fails_to_disconnect_still_gets_its_line_and_metric(
    open_raw: OpenRaw, server: TestServer, monkeypatch: pytest.MonkeyPatch, logs: LogWatch
) -> None:
    def broken(session: Session) -> None:
        raise RuntimeError("disconnect failed")

    monkeypatch.setattr(Session, "disconnect", broken)
    raw = await open_raw(server)
    await raw.upgrade(X_Request_Id="leaving-1")
    raw.send(client_frame(CLOSE, struct.pack("!H", 1000)))
    assert await raw.close_code() == 1000
    line = await logs.next("coedit.access")
    assert line["request_id"] == "leaving-1" and line["status"] == 101
    requests = server.app[METRICS].http_requests.labels("GET", "/v1/ws", "101")
    assert requests._value.get() == 1
    assert not server.app[SESSIONS]  # the connections gauge
    [error] = logs.of("server.web.websocket")
    assert "RuntimeError: disconnect failed" in error["exc"]
    assert error["request_id"] == "leaving-1" and error["level"] == "error"
    assert not logs.of("asyncio")  # logged by us, with the request id, not left to the loop


async def test_a_session_that_cannot_be_set_up_closes_with_1011_and_is_recorded(
    open_raw: OpenRaw, server: TestServer, monkeypatch: pytest.MonkeyPatch, logs: LogWatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no session")

    monkeypatch.setattr(websocket, "open_session", broken)
    raw = await open_raw(server)
    status, _ = await raw.upgrade(X_Request_Id="unset-1")
    assert status == 101  # sent before the session is set up
    raw.send(hello("too-early"))  # after the failure: ignored
    assert await raw.close_code() == 1011
    assert await raw.closed_by_server()
    line = await logs.next("coedit.access")
    assert line["request_id"] == "unset-1" and line["status"] == 101
    [error] = logs.of("server.web.websocket")
    assert "RuntimeError: no session" in error["exc"] and error["request_id"] == "unset-1"
    assert not logs.of("asyncio")
    assert not server.app[SESSIONS]


@pytest.mark.parametrize("peer_leaves", ["before the shutdown", "when closed by it"])
async def test_shutdown_ends_the_handling_of_a_message_that_outlives_its_connection(
    open_raw: OpenRaw,
    start_server: ServerFactory,
    monkeypatch: pytest.MonkeyPatch,
    logs: LogWatch,
    peer_leaves: str,
) -> None:
    handling, release, lost = asyncio.Event(), asyncio.Event(), asyncio.Event()
    connection_lost = WebSocketConnection.connection_lost

    async def stuck(session: Session, message: str | bytes) -> None:
        handling.set()
        await release.wait()

    def noticed(connection: WebSocketConnection, exc: Exception | None) -> None:
        connection_lost(connection, exc)
        lost.set()

    monkeypatch.setattr(Session, "receive_frame", stuck)
    monkeypatch.setattr(WebSocketConnection, "connection_lost", noticed)
    server = await start_server(shutdown_timeout=0.1)
    raw = await open_raw(server)
    await raw.upgrade(X_Request_Id="stuck-1")
    raw.send(hello("stuck"))
    try:
        async with asyncio.timeout(TIMEOUT):
            await handling.wait()
            if peer_leaves == "before the shutdown":
                await raw.close()
                await lost.wait()
            closing = asyncio.create_task(server.close())
            if peer_leaves == "when closed by it":
                assert await raw.close_code() == 1001
                await raw.close()
            await closing
        names = [name for task in asyncio.all_tasks() for name in awaiting(task)]
        assert "WebSocketConnection._work" not in names  # awaited or cancelled, not left behind
        [line] = logs.of("coedit.access")
        assert line["request_id"] == "stuck-1" and line["status"] == 101
        [cancelled] = logs.of("server.web.websocket")
        assert cancelled["level"] == "warning" and cancelled["request_id"] == "stuck-1"
    finally:
        release.set()
