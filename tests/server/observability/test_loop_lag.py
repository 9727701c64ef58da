"""The loop lag probe reports how late its timers ran, and a blocked loop shows."""

from __future__ import annotations

import asyncio
import time

from server.observability.loop_lag import LoopLagProbe


class Lags:
    """The probe's observations, with an event for the first ``count`` and one for a long lag."""

    def __init__(self, count: int, long: float) -> None:
        self.seen: list[float] = []
        self.counted, self.long_seen = asyncio.Event(), asyncio.Event()
        self._count, self._long = count, long

    def observe(self, lag: float) -> None:
        self.seen.append(lag)
        if len(self.seen) >= self._count:
            self.counted.set()
        if lag >= self._long:
            self.long_seen.set()


async def test_a_blocked_loop_shows_as_lag_and_a_free_one_does_not() -> None:
    lags = Lags(count=5, long=0.25)
    probe = LoopLagProbe(lags.observe, interval=0.01)
    probe.start()
    try:
        await asyncio.wait_for(lags.counted.wait(), 5)  # timers of a loop with nothing to do
        free = sorted(lags.seen)
        # a callback that holds the loop for 0.3 s, as CPU-bound work would
        asyncio.get_running_loop().call_soon(time.sleep, 0.3)
        await asyncio.wait_for(lags.long_seen.wait(), 5)
    finally:
        probe.stop()
    assert free[len(free) // 2] < 0.1, free
    assert 0.25 <= max(lags.seen) < 2.0, lags.seen


async def test_stop_ends_the_timers() -> None:
    lags = Lags(count=1, long=1.0)
    probe = LoopLagProbe(lags.observe, interval=0.005)
    probe.start()
    await asyncio.wait_for(lags.counted.wait(), 5)
    probe.stop()
    seen = len(lags.seen)
    await asyncio.sleep(0.05)  # ten intervals: a timer left running would have reported
    assert len(lags.seen) == seen
