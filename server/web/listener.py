"""Serves an application through the front door: ``FrontDoorSite`` binds the socket, ``run_app``
is ``coedit serve``'s loop (aiohttp's ``web.run_app``, with this site instead of ``TCPSite``).

Every entry point starts the app here (``coedit serve``, ``benchmarks.hub_serve``, the test
servers), so the lean WebSocket path is the one that runs everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable
from functools import partial
from typing import Any

from aiohttp import web
from yarl import URL

from server.web.front_door import FrontDoor
from server.web.keys import SETTINGS
from server.web.websocket import Endpoint


class FrontDoorSite(web.BaseSite):
    """A listening TCP socket (given, or bound to ``host`` and ``port``) whose connections
    start at the ``FrontDoor``; registered with its runner like aiohttp's own sites."""

    __slots__ = ("_app_runner", "_bound_port", "_doors", "_host", "_port", "_sock", "_tls")

    def __init__(
        self,
        runner: web.AppRunner,
        host: str | None = None,
        port: int = 0,
        *,
        sock: socket.socket | None = None,
        backlog: int = 128,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: serve https and wss with this server context (``server.web.tls``)."""
        super().__init__(runner, backlog=backlog)
        self._app_runner = runner
        self._host = host
        self._port = port
        self._sock = sock
        self._tls = tls
        self._bound_port = port
        self._doors: set[FrontDoor] = set()  # connections still sending their first head

    @property
    def name(self) -> str:
        scheme = "http" if self._tls is None else "https"
        return str(URL.build(scheme=scheme, host=self._host or "0.0.0.0", port=self.port))

    @property
    def port(self) -> int:
        """The bound port (the one the kernel chose, once started, when asked for port 0)."""
        return self._bound_port

    async def start(self) -> None:
        await super().start()
        web_server = self._app_runner.server
        assert web_server is not None  # BaseSite checked that the runner was set up
        app = self._app_runner.app
        head_timeout = app[SETTINGS].request_head_timeout
        door = partial(FrontDoor, Endpoint.of(app), web_server, self._doors, head_timeout)
        loop = asyncio.get_running_loop()
        options: dict[str, Any] = {"backlog": self._backlog}
        if self._tls is not None:
            options["ssl"] = self._tls
            if head_timeout > 0:  # the head's deadline starts after the handshake: bound it too
                options["ssl_handshake_timeout"] = head_timeout
        if self._sock is not None:
            server = await loop.create_server(door, sock=self._sock, **options)
        else:
            server = await loop.create_server(door, self._host, self._port, **options)
        self._server = server
        self._bound_port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, and close the connections whose first head is still incomplete, as
        aiohttp closes its idle ones: none may open a WebSocket on an app shutting down."""
        await super().stop()
        for door in list(self._doors):
            door.close()


def run_app(
    app: web.Application,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    on_listening: Callable[[], None] = lambda: None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully (the app's
    ``on_shutdown`` closes every WebSocket with 1001); ``on_listening`` runs once bound."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(_serve(app, host, port, shutdown_timeout, on_listening, tls))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):  # raised by the runner's signal handlers
        pass
    finally:
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main)  # runs _serve's cleanup
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _serve(
    app: web.Application,
    host: str,
    port: int,
    shutdown_timeout: float,
    on_listening: Callable[[], None],
    tls: ssl.SSLContext | None,
) -> None:
    runner = web.AppRunner(
        app, handle_signals=True, access_log=None, shutdown_timeout=shutdown_timeout
    )
    await runner.setup()
    try:
        await FrontDoorSite(runner, host, port, tls=tls).start()
        on_listening()
        await asyncio.Event().wait()  # until a signal raises GracefulExit
    finally:
        await runner.cleanup()
