"""A log handler tests can await: it keeps every line of the watched loggers as the fields the
server would print (``request_id`` read when the line is logged, as the formatters do)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from server.observability.logs import event_fields
from tests.server.web.raw_client import TIMEOUT

Line = dict[str, Any]


class LogWatch(logging.Handler):
    """The lines logged so far; ``next`` waits for one of a given logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[Line] = []
        self._arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(event_fields(record))
        self._arrived.set()

    def of(self, logger: str) -> list[Line]:
        """The lines of ``logger`` logged so far."""
        return [line for line in self.lines if line["logger"] == logger]

    async def next(self, logger: str) -> Line:
        """The first line of ``logger``, removed from ``lines``; waits up to ``TIMEOUT``."""
        async with asyncio.timeout(TIMEOUT):
            while not (found := self.of(logger)):
                self._arrived.clear()
                await self._arrived.wait()
        self.lines.remove(found[0])
        return found[0]
