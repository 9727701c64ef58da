"""Metrics for the hot path, updated without locks: only the event loop's thread touches them
(the hub, the outboxes and the ``/metrics`` handler all run there), so an observation is a bisect
and two additions instead of prometheus_client's lock per value. They render as ordinary
Prometheus counters and histograms through a collector registered on the application's registry.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry


class LoopCounter:
    """A monotonic counter (exposed as ``<name>_total``)."""

    __slots__ = ("documentation", "name", "value")

    def __init__(self, name: str, documentation: str) -> None:
        self.name, self.documentation = name, documentation
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def family(self) -> Metric:
        return CounterMetricFamily(self.name, self.documentation, value=self.value)


class LoopHistogram:
    """A histogram with fixed upper bounds (an implicit ``+Inf`` bucket follows the last)."""

    __slots__ = ("_bounds", "_counts", "_sum", "documentation", "name")

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name, self.documentation = name, documentation
        self._bounds = tuple(float(b) for b in buckets)
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left finds the first bound >= value: Prometheus buckets count value <= le.
        self._counts[bisect_left(self._bounds, value)] += 1
        self._sum += value

    def observe_many(self, values: Iterable[float]) -> None:
        bounds, counts = self._bounds, self._counts
        total = 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1
            total += value
        self._sum += total

    @property
    def count(self) -> int:
        return sum(self._counts)

    def family(self) -> Metric:
        cumulative, buckets = 0, []
        for bound, count in zip((*self._bounds, float("inf")), self._counts, strict=True):
            cumulative += count
            buckets.append((_le(bound), float(cumulative)))
        return HistogramMetricFamily(
            self.name, self.documentation, buckets=buckets, sum_value=self._sum
        )


def _le(bound: float) -> str:
    if bound == float("inf"):
        return "+Inf"
    return repr(bound) if not bound.is_integer() else f"{bound:.1f}"


M = TypeVar("M", "LoopCounter", "LoopHistogram")


class LoopMetrics(Collector):
    """The loop-thread metrics of one registry, rendered at scrape time."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._metrics: list[LoopCounter | LoopHistogram] = []
        self._registry = registry
        self._registered = False

    def counter(self, name: str, documentation: str) -> LoopCounter:
        return self._add(LoopCounter(name, documentation))

    def histogram(self, name: str, documentation: str, buckets: Sequence[float]) -> LoopHistogram:
        return self._add(LoopHistogram(name, documentation, buckets))

    def register(self) -> None:
        """Register on the registry once every metric is added (the registry checks names)."""
        if not self._registered:
            self._registry.register(self)
            self._registered = True

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()

    def _add(self, metric: M) -> M:
        self._metrics.append(metric)
        return metric
