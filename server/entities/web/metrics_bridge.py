"""Feeds the entities API's reports into the server's Prometheus metrics
(``server.observability``): changes-feed lag, outbox batch sizes, idempotent replays and
conflicts that merge policies resolved."""

from __future__ import annotations

from server.observability.metrics import Metrics


class ObservabilityMetrics:
    """``EntityMetrics`` over the application's ``Metrics``."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def pulled(self, lag_seconds: float) -> None:
        """Age of the oldest change a pull returned."""
        self._metrics.changes_feed_lag.observe(lag_seconds)

    def batch(self, writes: int) -> None:
        """Writes in one outbox batch."""
        self._metrics.outbox_batch_records.observe(writes)

    def replayed(self, count: int) -> None:
        """Writes answered from their idempotency key."""
        self._metrics.idempotent_replays.inc(count)

    def conflicts(self, count: int) -> None:
        """Conflicts resolved by merge policies."""
        self._metrics.entity_conflicts.inc(count)
