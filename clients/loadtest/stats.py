"""What one process of a load test counts and measures, and how the parts add up."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from clients.loadtest.latency import LatencyHistogram


@dataclass(slots=True)
class RunClock:
    """Time of one run. Local latencies use ``perf_counter``; timestamps that cross processes
    (tokens) are wall-clock µs since ``epoch_wall``, which every process is given."""

    epoch_wall: float
    _offset: float = field(init=False)  # wall minus perf in this process

    def __post_init__(self) -> None:
        self._offset = time.time() - time.perf_counter()

    def micros(self, perf: float) -> int:
        """The token value of the local instant ``perf``."""
        return int((perf + self._offset - self.epoch_wall) * 1e6)

    def since_micros(self, micros: int) -> float:
        """Seconds from a token's instant until now."""
        return time.time() - self.epoch_wall - micros / 1e6

    def now_micros(self) -> float:
        """Now, on the tokens' scale (wall-clock µs since ``epoch_wall``)."""
        return (time.time() - self.epoch_wall) * 1e6


INFINITY = float("inf")


@dataclass(slots=True)
class PartStats:
    """Counts and latencies of one process.

    Only edits *intended* inside the measured window count towards latencies, whenever their
    ack or broadcast arrives (so the slow ones at the end are not dropped); throughput counts
    the acks that arrive inside it.
    """

    ack: LatencyHistogram = field(default_factory=LatencyHistogram)
    broadcast: LatencyHistogram = field(default_factory=LatencyHistogram)
    errors: Counter[str] = field(default_factory=Counter)
    edits: int = 0  # local edits made (all, warm-up included)
    submitted: int = 0  # submit messages sent
    acks_total: int = 0  # acks received (all)
    acked: int = 0  # acks received inside the window
    acked_edits: int = 0  # edits those acks covered
    received: int = 0  # remote ops applied (all)
    connected: int = 0  # connections open
    window_start: float = INFINITY  # perf_counter
    window_end: float = INFINITY
    window_start_us: int = 2**62  # the same window as token values
    window_end_us: int = 2**62
    cpu_seconds: float = 0.0  # this process's CPU time inside the window
    replicas: int = 0  # replicas checked against the server at the end
    lean_replicas: int = 0  # ... of which lean: checked by version and length only
    diverged: list[str] = field(default_factory=list)  # what was wrong with the others
    timings: dict[str, LatencyHistogram] = field(default_factory=dict)  # workload-specific
    extra: dict[str, float] = field(default_factory=dict)  # workload-specific figures

    def timing(self, name: str) -> LatencyHistogram:
        """The workload-specific latency histogram ``name`` (created empty)."""
        histogram = self.timings.get(name)
        if histogram is None:
            histogram = self.timings[name] = LatencyHistogram()
        return histogram

    @property
    def measured_seconds(self) -> float:
        if self.window_end == INFINITY:
            return 0.0
        return max(0.0, self.window_end - self.window_start)

    def open_window(self, start: float, clock: RunClock) -> None:
        self.window_start, self.window_start_us = start, clock.micros(start)

    def close_window(self, end: float, clock: RunClock) -> None:
        self.window_end, self.window_end_us = end, clock.micros(end)

    def count(self, name: str) -> None:
        """Add one to the workload-specific figure ``name`` (in ``extra``)."""
        self.extra[name] = self.extra.get(name, 0.0) + 1

    def in_window(self, perf: float) -> bool:
        return self.window_start <= perf < self.window_end

    def merge(self, other: PartStats) -> None:
        """Add another process's figures (the window: the longest)."""
        self.ack.merge(other.ack)
        self.broadcast.merge(other.broadcast)
        self.errors.update(other.errors)
        self.edits += other.edits
        self.submitted += other.submitted
        self.acks_total += other.acks_total
        self.acked += other.acked
        self.acked_edits += other.acked_edits
        self.received += other.received
        self.connected += other.connected
        if other.measured_seconds > self.measured_seconds:
            self.window_start, self.window_end = other.window_start, other.window_end
        self.cpu_seconds += other.cpu_seconds
        self.replicas += other.replicas
        self.lean_replicas += other.lean_replicas
        self.diverged.extend(other.diverged)
        for name, histogram in other.timings.items():
            self.timing(name).merge(histogram)
        for key, value in other.extra.items():
            self.extra[key] = self.extra.get(key, 0.0) + value
