"""The event loop's lag: how late it runs a timer. Every connection, commit and request of a
process waits on this loop, so a busy loop (too much work, or one long callback) shows here
first, and tells a saturated process apart from a slow store or network."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

LOOP_LAG_INTERVAL = 0.1
"""Seconds between two timers of the probe: ten observations a second, a negligible cost."""


class LoopLagProbe:
    """Runs a timer every ``interval`` seconds and reports how late each one ran, in seconds.

    The resolution is the loop's timer resolution (about 1 ms with uvloop)."""

    __slots__ = ("_handle", "_interval", "_observe")

    def __init__(self, observe: Callable[[float], None], interval: float = LOOP_LAG_INTERVAL):
        self._observe = observe
        self._interval = interval
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start timing; call it on the running loop."""
        if self._handle is None:
            self._schedule(asyncio.get_running_loop())

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        due = loop.time() + self._interval
        self._handle = loop.call_at(due, self._tick, loop, due)

    def _tick(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        self._observe(max(0.0, loop.time() - due))
        self._schedule(loop)
