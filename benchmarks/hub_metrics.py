"""Benchmark: what the hub's metrics cost per committed batch (``Metrics`` as ``HubObserver``).

The hub reports once per committed batch: one op (the many-documents case) or ten (a hot
document). Times one report, one time-to-consistency observation and one group-commit batch size,
best of 5 rounds of 100,000 calls each.

    .venv/bin/python -m benchmarks.hub_metrics
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from server.hub.observer import CommitReport
from server.observability.metrics import Metrics

CALLS, ROUNDS = 100_000, 5


def best_microseconds(call: Callable[[], object]) -> float:
    return min(timeit.repeat(call, number=CALLS, repeat=ROUNDS)) / CALLS * 1e6


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    metrics = Metrics()
    one = CommitReport([3], [0.004], commit_seconds=0.003, fanout_seconds=1e-4, subscribers=2)
    ten = CommitReport([3] * 10, [0.004] * 10, 0.003, 1e-4, subscribers=50)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("report of a 1-op batch", lambda: metrics.committed(one)),
        ("report of a 10-op batch", lambda: metrics.committed(ten)),
        ("time to consistency", lambda: metrics.consistent(1e-3)),
        ("group-commit batch size", lambda: metrics.storage_batch(20)),
    ]
    for name, call in cases:
        print(f"{name:<26} {best_microseconds(call):6.2f} µs")


if __name__ == "__main__":
    main()
