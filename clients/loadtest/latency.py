"""A latency histogram with about 1% relative precision and constant memory, mergeable across
processes: buckets are logarithmic, ``BUCKETS_PER_E`` of them per factor of e.

Recording a sample is one logarithm and one list increment, cheap enough to record every
ack and every received op of a load test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

BUCKETS_PER_E = 100  # bucket i holds [exp(i/100), exp((i+1)/100)) µs: 1% wide
_MAX_BUCKET = int(math.log(3600e6) * BUCKETS_PER_E) + 1  # one hour, in µs


@dataclass(slots=True)
class LatencyHistogram:
    """Latencies in seconds. Percentiles answer the upper edge of their bucket (never low)."""

    counts: list[int] = field(default_factory=lambda: [0] * (_MAX_BUCKET + 1))
    count: int = 0
    total: float = 0.0
    maximum: float = 0.0

    def record(self, seconds: float) -> None:
        """Add one sample; negative samples (clock noise) count as zero."""
        micros = seconds * 1e6
        index = int(math.log(micros) * BUCKETS_PER_E) if micros > 1.0 else 0
        self.counts[index if index < _MAX_BUCKET else _MAX_BUCKET] += 1
        self.count += 1
        if seconds > 0.0:
            self.total += seconds
            if seconds > self.maximum:
                self.maximum = seconds

    def merge(self, other: LatencyHistogram) -> None:
        """Add every sample of ``other``."""
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def percentile(self, q: float) -> float:
        """The latency at or below which a fraction ``q`` (0..1) of the samples fall."""
        if not self.count:
            return math.nan
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index, n in enumerate(self.counts):
            seen += n
            if seen >= rank:
                return min(math.exp((index + 1) / BUCKETS_PER_E) / 1e6, self.maximum)
        return self.maximum

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def summary(self) -> dict[str, float | int]:
        """Count, mean, p50, p90, p99, p99.9 and max, in seconds."""
        return {
            "count": self.count,
            "mean": self.mean,
            "p50": self.percentile(0.50),
            "p90": self.percentile(0.90),
            "p99": self.percentile(0.99),
            "p99.9": self.percentile(0.999),
            "max": self.maximum if self.count else math.nan,
        }
