"""``AppServer``: aiohttp's ``TestServer``, serving through the front door (``FrontDoorSite``)
as ``coedit serve`` does, so every test that starts the app runs the lean WebSocket path."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from server.web.listener import FrontDoorSite


class AppServer(TestServer):
    """Same constructor and use as ``TestServer(app)``: ``make_url``, ``host``, ``port``,
    ``close``, ``runner``, ``app``; also an async context manager."""

    async def start_server(
        self, loop: asyncio.AbstractEventLoop | None = None, **kwargs: Any
    ) -> None:
        if self.runner:
            return
        runner = web.AppRunner(self.app, handler_cancellation=True, **kwargs)
        self.runner = runner
        await runner.setup()
        sock = self.socket_factory(self.host, self.port or 0, socket.AF_INET)
        site = FrontDoorSite(runner, self.host, sock=sock)
        await site.start()
        self.port = site.port
        self.scheme = self.scheme or "http"
        self._root = URL(f"{self.scheme}://{self.host}:{self.port}")
