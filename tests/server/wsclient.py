"""A small protocol v1 test client over a real WebSocket: send messages, await matching ones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

Message = dict[str, Any]
TIMEOUT = 10.0


class WsClient:
    """Collects every message the server sends; tests wait for the ones they expect."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received: list[Message] = []
        self.frames = 0
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.close_code: int | None = None

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, *, client_id: str | None = None, **kw: Any
    ) -> WsClient:
        client = cls(await session.ws_connect(url, **kw))
        if client_id is not None:
            await client.send({"type": "hello", "protocol": 1, "client": client_id})
            await client.expect(lambda m: m["type"] == "welcome")
        return client

    async def send(self, *messages: Message) -> None:
        payload = messages[0] if len(messages) == 1 else list(messages)
        await self.ws.send_bytes(orjson.dumps(payload))

    async def send_raw(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def expect(self, match: Callable[[Message], bool], timeout: float = TIMEOUT) -> Message:  # noqa: ASYNC109
        """The first received message (oldest first) that matches; it is removed from the list."""
        async with asyncio.timeout(timeout):
            while True:
                for i, message in enumerate(self.received):
                    if match(message):
                        return self.received.pop(i)
                if self._reader.done():
                    raise AssertionError(f"connection closed ({self.close_code}) while waiting")
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_received(self, timeout: float = TIMEOUT) -> None:  # noqa: ASYNC109
        """Wait until at least one received message is unread."""
        async with asyncio.timeout(timeout):
            while not self.received:
                if self._reader.done():
                    raise AssertionError(f"connection closed ({self.close_code}) while waiting")
                self._arrived.clear()
                await self._arrived.wait()

    async def expect_type(self, kind: str, **fields: Any) -> Message:
        return await self.expect(
            lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())
        )

    async def open(self, doc: str, version: int | None = None) -> Message:
        message: Message = {"type": "open", "doc": doc}
        if version is not None:
            message["version"] = version
        await self.send(message)
        return await self.expect(lambda m: m.get("doc") == doc and m["type"] in ("opened", "error"))

    async def wait_closed(self, timeout: float = TIMEOUT) -> int | None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            await self._reader
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.frames += 1
                    value = orjson.loads(msg.data)
                    self.received.extend(value if isinstance(value, list) else [value])
                    self._arrived.set()
        finally:
            self.close_code = self.ws.close_code
            self._arrived.set()
