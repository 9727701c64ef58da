"""A hand-driven WebSocket client for tests of what the lean path owns: it writes exact bytes
(masked or not, any RSV bits, any split) and reads exact frames."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from collections.abc import Awaitable, Callable

import orjson
from aiohttp.test_utils import TestServer

from server.web.frames import unmask

TIMEOUT = 5.0

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0
) -> bytes:
    """A frame as a client sends it: masked with a random key (RFC 6455 §5.3)."""
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    size = len(payload)
    if size < 126:
        header = bytes((first, (0x80 if masked else 0) | size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, size)
    else:
        header = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, size)
    if not masked:
        return header + payload
    mask = os.urandom(4)
    return header + mask + unmask(payload, mask)


class RawClient:
    """A hand-driven client socket: writes exact bytes, reads exact frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, head: str) -> tuple[int, dict[str, str], bytes]:
        """Send a request head; the response's status, headers (lower case) and body."""
        self.writer.write(head.encode())
        return await self.response()

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        """The next response's status, headers (lower case) and body."""
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


def hello(client: str) -> bytes:
    return client_frame(TEXT, orjson.dumps({"type": "hello", "protocol": 1, "client": client}))


def awaiting(task: asyncio.Task[object]) -> list[str]:
    """The qualified names of the coroutines a task is suspended in, outermost first."""
    names, coro = [], task.get_coro()
    while (code := getattr(coro, "cr_code", None)) is not None:
        names.append(code.co_qualname)
        coro = coro.cr_await  # type: ignore[union-attr]
    return names
