"""The front door and the lean WebSocket over real sockets: what the lean path newly owns (the
handshake, the codec's refusals, the heartbeat, the close handshake) and the hand-over of
everything else to aiohttp on the same port."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from server.config import Limits
from tests.server.conftest import ServerFactory
from tests.server.web.test_frames import CLOSE, PING, PONG, TEXT, client_frame
from tests.server.wsclient import WsClient

TIMEOUT = 5.0


class RawClient:
    """A hand-driven client socket: writes exact bytes, reads exact frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, head: str) -> tuple[int, dict[str, str], bytes]:
        """Send a request head; the response's status, headers (lower case) and body."""
        self.writer.write(head.encode())
        async with asyncio.timeout(TIMEOUT):
            raw = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *lines = raw.decode().split("\r\n")
            headers = {}
            for line in lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.lower()] = value.strip()
            body = await self.reader.readexactly(int(headers.get("content-length", 0)))
        return int(status_line.split()[1]), headers, body

    async def upgrade(self, path: str = "/v1/ws", **extra: str) -> tuple[int, dict[str, str]]:
        fields = {
            "Host": "localhost",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
            **{k.replace("_", "-"): v for k, v in extra.items()},
        }
        lines = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v)
        status, headers, _ = await self.request(f"GET {path} HTTP/1.1\r\n{lines}\r\n")
        return status, headers

    def send(self, frame: bytes) -> None:
        self.writer.write(frame)

    async def frame(self) -> tuple[int, bytes]:
        """The next server frame: opcode and payload (server frames are never masked)."""
        async with asyncio.timeout(TIMEOUT):
            first, second = await self.reader.readexactly(2)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", await self.reader.readexactly(8))
            return first & 0x0F, await self.reader.readexactly(size)

    async def close_code(self) -> int:
        """Skip data frames up to the server's close frame; its code."""
        while True:
            opcode, payload = await self.frame()
            if opcode == CLOSE:
                return int(struct.unpack("!H", payload[:2])[0])

    async def closed_by_server(self) -> bool:
        async with asyncio.timeout(TIMEOUT):
            return await self.reader.read() == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


OpenRaw = Callable[[TestServer], Awaitable[RawClient]]


@pytest.fixture
async def open_raw() -> AsyncIterator[OpenRaw]:
    """``await open_raw(server)``: a connected ``RawClient``, closed at teardown."""
    clients: list[RawClient] = []

    async def open_(server: TestServer) -> RawClient:
        client = RawClient(*await asyncio.open_connection(server.host, server.port))
        clients.append(client)
        return client

    yield open_
    for client in clients:
        await client.close()


def hello(client: str) -> bytes:
    return client_frame(TEXT, orjson.dumps({"type": "hello", "protocol": 1, "client": client}))


async def test_an_upgrade_opens_a_lean_connection_that_speaks_the_protocol(
    open_raw: OpenRaw,
    server: TestServer,
) -> None:
    raw = await open_raw(server)
    status, headers = await raw.upgrade(X_Request_Id="lean-1")
    assert status == 101 and headers["x-request-id"] == "lean-1"
    assert headers["upgrade"] == "websocket" and "sec-websocket-accept" in headers
    raw.send(hello("raw"))
    opcode, payload = await raw.frame()
    assert opcode == TEXT and orjson.loads(payload)[0]["type"] == "welcome"
    raw.send(client_frame(PING, b"are you there"))
    assert await raw.frame() == (PONG, b"are you there")
    raw.send(client_frame(CLOSE, struct.pack("!H", 4000) + b"bye"))
    assert await raw.close_code() == 4000  # the close handshake echoes the code
    assert await raw.closed_by_server()


async def test_an_idle_lean_connection_keeps_no_task(connect) -> None:
    ws: WsClient = await connect("alice")
    await ws.open("d")
    await ws.send({"type": "ping", "id": 1})
    await ws.expect_type("pong", id=1)
    names = [name for t in asyncio.all_tasks() for name in _awaiting(t)]
    assert not [n for n in names if "WebSocketConnection" in n or n == "websocket"], names


async def test_a_bad_version_gets_426_naming_version_13(
    open_raw: OpenRaw, server: TestServer
) -> None:
    raw = await open_raw(server)
    status, headers = await raw.upgrade(Sec_WebSocket_Version="8", X_Request_Id="old-1")
    assert status == 426 and headers["sec-websocket-version"] == "13"
    assert headers["x-request-id"] == "old-1"


async def test_a_missing_or_malformed_key_gets_400(open_raw: OpenRaw, server: TestServer) -> None:
    for key in ("", "c2hvcnQ="):  # absent; 5 bytes, not 16
        raw = await open_raw(server)
        status, _ = await raw.upgrade(Sec_WebSocket_Key=key)
        assert status == 400


async def test_rest_requests_reach_aiohttp_on_the_same_port(
    open_raw: OpenRaw, server: TestServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.make_url("/healthz")) as response:
        assert response.status == 200
    body = {"client": "rest-1", "seq": 1, "version": 0, "op": ["hi"]}
    async with http.post(server.make_url("/v1/docs/d/ops"), json=body) as response:
        assert response.status == 200
    raw = await open_raw(server)
    status, _, _ = await raw.request("NONSENSE\r\n\r\n")  # malformed: aiohttp answers it
    assert status == 400


async def test_an_upgrade_after_rest_on_a_keep_alive_connection_falls_back_to_aiohttp(
    open_raw: OpenRaw,
    server: TestServer,
) -> None:
    raw = await open_raw(server)
    status, _, _ = await raw.request("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status == 200
    status, headers = await raw.upgrade(X_Request_Id="fallback-1")
    assert status == 101 and headers["x-request-id"] == "fallback-1"
    raw.send(hello("late"))
    opcode, payload = await raw.frame()
    assert opcode == TEXT and orjson.loads(payload)[0]["type"] == "welcome"
    # aiohttp's route serves it, and no middleware stays suspended around it.
    [chain] = [c for t in asyncio.all_tasks() if "websocket" in (c := _awaiting(t))]
    assert chain[chain.index("websocket") + 1] == "WebSocketResponse.receive"
    assert not [name for name in chain if "middleware" in name], chain
    raw.send(client_frame(CLOSE, struct.pack("!H", 1000)))
    assert await raw.close_code() == 1000


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


def _awaiting(task: asyncio.Task[object]) -> list[str]:
    """The qualified names of the coroutines a task is suspended in, outermost first."""
    names, coro = [], task.get_coro()
    while (code := getattr(coro, "cr_code", None)) is not None:
        names.append(code.co_qualname)
        coro = coro.cr_await  # type: ignore[union-attr]
    return names
