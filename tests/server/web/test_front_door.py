"""The front door over real sockets: a valid upgrade takes the lean path with its 101 and
request id, a refused one gets its HTTP status, and everything else on the same port (REST, a
malformed request, an upgrade on a keep-alive connection) reaches aiohttp."""

from __future__ import annotations

import asyncio
import struct

import aiohttp
import orjson
from aiohttp.test_utils import TestServer

from tests.server.conftest import ServerFactory
from tests.server.web.raw_client import (
    CLOSE,
    PING,
    PONG,
    TEXT,
    OpenRaw,
    awaiting,
    client_frame,
    hello,
)


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
    [chain] = [c for t in asyncio.all_tasks() if "websocket" in (c := awaiting(t))]
    assert chain[chain.index("websocket") + 1] == "WebSocketResponse.receive"
    assert not [name for name in chain if "middleware" in name], chain
    raw.send(client_frame(CLOSE, struct.pack("!H", 1000)))
    assert await raw.close_code() == 1000


async def test_shutdown_closes_a_connection_still_sending_its_request_head(
    open_raw: OpenRaw,
    start_server: ServerFactory,
) -> None:
    server = await start_server()
    raw = await open_raw(server)
    raw.send(b"GET /v1/ws HTTP/1.1\r\nHost: localhost\r\n")  # the head is not complete yet
    idle = await open_raw(server)
    healthy, _, _ = await idle.request("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert healthy == 200  # both connections are accepted and waiting
    await server.close()
    assert await raw.closed_by_server()  # as aiohttp closes its own idle connections
    assert await idle.closed_by_server()


async def test_a_request_head_not_complete_in_time_gets_408_and_is_closed(
    start_server: ServerFactory,
    open_raw: OpenRaw,  # after the server: its clients close first, and the server stops at once
) -> None:
    server = await start_server(request_head_timeout=0.3)
    upgraded, rest = await open_raw(server), await open_raw(server)
    status, _ = await upgraded.upgrade()
    assert status == 101
    status, _, _ = await rest.request("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status == 200
    slow = await open_raw(server)  # accepted last: the others' deadlines pass before its own
    slow.send(b"GET /v1/ws HTTP/1.1\r\nHost: localhost\r\n")  # and never the rest of it
    status, headers, _ = await slow.response()
    assert status == 408 and headers["connection"] == "close"
    assert await slow.closed_by_server()
    # The connections that sent their head in time keep going past their deadline.
    upgraded.send(client_frame(PING, b"still here"))
    assert await upgraded.frame() == (PONG, b"still here")
    status, _, _ = await rest.request("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert status == 200
