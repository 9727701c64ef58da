"""What the load tester reads from the server itself: ``/metrics`` (when it answers) and the
resident memory of its process (from ``/proc/<pid>`` when given the pid, else from ``/metrics``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from clients.loadtest.target import Target


@dataclass(frozen=True, slots=True)
class Scrape:
    """One reading of ``/metrics``: plain samples summed over their labels, and histogram
    buckets (``le`` → cumulative count) by histogram name."""

    values: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)

    def delta(self, later: Scrape, name: str) -> float:
        return later.values.get(name, 0.0) - self.values.get(name, 0.0)

    def quantile(self, later: Scrape, histogram: str, q: float) -> float:
        """The upper bucket bound below which ``q`` of the observations between the two
        readings fall (Prometheus' ``histogram_quantile`` without interpolation)."""
        before, after = self.buckets.get(histogram, {}), later.buckets.get(histogram, {})
        bounds = sorted(after)
        counts = [after[b] - before.get(b, 0.0) for b in bounds]
        if not counts or counts[-1] <= 0:
            return math.nan
        rank = q * counts[-1]
        for bound, count in zip(bounds, counts, strict=True):
            if count >= rank:
                return bound
        return math.inf


async def scrape(http: aiohttp.ClientSession, target: Target) -> Scrape | None:
    """``/metrics`` parsed, or None if the server does not serve it."""
    try:
        async with http.get(f"{target.http_url}/metrics") as response:
            if response.status != 200:
                return None
            text = await response.text()
    except aiohttp.ClientError:
        return None
    result = Scrape()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket") and "le" in sample.labels:
                histogram = result.buckets.setdefault(sample.name[: -len("_bucket")], {})
                le = float(sample.labels["le"])
                histogram[le] = histogram.get(le, 0.0) + sample.value
            else:
                result.values[sample.name] = result.values.get(sample.name, 0.0) + sample.value
    return result


async def server_rss(http: aiohttp.ClientSession, target: Target, pid: int | None) -> int | None:
    """The server's resident memory in bytes, or None if neither source answers."""
    if pid is not None:
        return _proc_rss(pid)
    reading = await scrape(http, target)
    if reading is None or "process_resident_memory_bytes" not in reading.values:
        return None
    return int(reading.values["process_resident_memory_bytes"])


def _proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"/proc/{pid}/status has no VmRSS line")
