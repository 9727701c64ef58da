"""Broadcast pacing: a busy connection gets the ops and cursors relayed to it at most about once
per interval, in one frame, instead of one frame per commit.

A frame costs a system call on the server and a read on the client whatever it carries, and in a
busy document commits come faster than frames are worth. A connection that was last written to
at least ``interval`` ago still gets a relayed message at the end of the loop turn, so a quiet
document sees no delay; one written to more recently waits for the pacer's next tick (at most
``interval``), which flushes every waiting connection at once. Acks, replies and errors are never
paced: they go out at the end of the turn, carrying whatever relayed messages wait before them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class Pacer:
    """One shared timer for every connection waiting to be flushed."""

    __slots__ = ("_handle", "_waiting", "interval")

    def __init__(self, interval: float) -> None:
        """``interval`` in seconds; 0 turns pacing off (every frame goes at the end of the turn)."""
        self.interval = interval
        self._waiting: list[Callable[[], None]] = []
        self._handle: asyncio.TimerHandle | None = None

    def defer(self, flush: Callable[[], None]) -> None:
        """Call ``flush`` at the next tick, at most ``interval`` from now."""
        self._waiting.append(flush)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def _tick(self) -> None:
        self._handle = None
        waiting, self._waiting = self._waiting, []
        for flush in waiting:
            try:
                flush()
            except Exception:  # one broken connection must not leave the others waiting
                log.exception("a paced flush failed")
