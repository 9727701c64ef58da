"""Fixtures of the WebSocket and REST conformance suite."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestServer

from tests.server.conftest import ServerFactory
from tests.server.dial import dial
from tests.server.web.log_watch import LogWatch
from tests.server.web.raw_client import OpenRaw, RawClient

__all__ = ["dial"]

_WATCHED = ("coedit.access", "server.web", "asyncio")


@pytest.fixture
async def open_raw(start_server: ServerFactory) -> AsyncIterator[OpenRaw]:
    """``await open_raw(server)``: a connected ``RawClient``, closed at teardown.

    Depends on ``start_server`` only to be torn down before it: the clients close first, so a
    stopping server does not wait out its close timeout on a client that never answers."""
    clients: list[RawClient] = []

    async def open_(server: TestServer) -> RawClient:
        client = RawClient(*await asyncio.open_connection(server.host, server.port))
        clients.append(client)
        return client

    yield open_
    for client in clients:
        await client.close()


@pytest.fixture
def logs() -> Iterator[LogWatch]:
    """Every line of the access log, the web layer and asyncio (unhandled errors) at any level."""
    watch = LogWatch()
    loggers = [logging.getLogger(name) for name in _WATCHED]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(watch)
        logger.setLevel(logging.DEBUG)
    yield watch
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(watch)
        logger.setLevel(level)
