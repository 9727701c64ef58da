"""The server's Prometheus metrics: one ``Metrics`` object per application, on its own registry,
so that several applications in one process (tests) never share or collide. Metrics updated per
op or per batch are loop metrics (``loopmetrics``): only the event loop's thread may update them.

``Metrics`` is the hub's ``HubObserver``; the web layer, the stores and other components call
its metric objects directly. No label carries a document id, client id or raw URL: every label
takes values from a small fixed set (error codes, route templates, statuses, reasons).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from server.hub.observer import CommitReport
from server.observability.loopmetrics import LoopMetrics
from server.protocol.errors import ErrorCode

# Latencies from 0.1 ms to 10 s: a commit with fsync takes about a millisecond, a slow one seconds.
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
COUNT_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
LAG_BUCKETS = (0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)

AUTH_FAILURE_REASONS = frozenset(
    {"missing_token", "invalid_token", "token_expired", "forbidden", "other"}
)


class Metrics:
    """Every metric of one coedit application, registered on ``self.registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, cpu, fds
        self._loop = LoopMetrics(self.registry)
        self._hub_metrics()
        self._web_metrics()
        self._extension_metrics()
        self.event_loop_lag = self._loop.histogram(
            "coedit_event_loop_lag_seconds",
            "How late the event loop ran a timer due every 0.1 s: how long ready work waited.",
            LATENCY_BUCKETS,
        )
        self._loop.register()

    def _hub_metrics(self) -> None:
        """The hub's metrics. Those updated per op or per batch are loop metrics (no lock)."""
        reg, loop = self.registry, self._loop
        self.open_documents = Gauge(
            "coedit_open_documents", "Documents held in memory by the hub.", registry=reg
        )
        self.ops_rejected = Counter(
            "coedit_ops_rejected",
            "Submitted ops that were not committed, by error code.",
            ["code"],
            registry=reg,
        )
        self.resyncs = Counter(
            "coedit_resyncs",
            "Requests for history no longer kept (clients told resync_required).",
            registry=reg,
        )
        self.ops_committed = loop.counter(
            "coedit_ops_committed", "Ops durably committed by this process."
        )
        self.op_transforms = loop.histogram(
            "coedit_op_transforms",
            "Ops a submitted op was rebased past: head version minus its base version.",
            COUNT_BUCKETS,
        )
        self.commit_batch_ops = loop.histogram(
            "coedit_commit_batch_ops",
            "Ops of one document committed together in one append.",
            COUNT_BUCKETS[1:],
        )
        self.ack_latency = loop.histogram(
            "coedit_ack_latency_seconds",
            "From a submitted op reaching the hub to its ack being queued (durable).",
            LATENCY_BUCKETS,
        )
        self.commit_latency = loop.histogram(
            "coedit_commit_latency_seconds",
            "Durable append of one batch of ops to the store.",
            LATENCY_BUCKETS,
        )
        self.broadcast_latency = loop.histogram(
            "coedit_broadcast_seconds",
            "Handing one committed batch (ops and acks) to every subscriber's send queue.",
            LATENCY_BUCKETS,
        )
        self.time_to_consistency = loop.histogram(
            "coedit_time_to_consistency_seconds",
            "From a commit until every subscriber connected at that moment was sent it.",
            LATENCY_BUCKETS,
        )
        self.storage_batch_appends = loop.histogram(
            "coedit_storage_batch_appends",
            "Append calls committed in one storage transaction (group commit).",
            COUNT_BUCKETS[1:],
        )

    def _web_metrics(self) -> None:
        reg = self.registry
        self.connections = Gauge("coedit_connections", "Open WebSocket connections.", registry=reg)
        self.slow_consumers_closed = Counter(
            "coedit_slow_consumers_closed",
            "Connections closed (4008) because their unsent bytes passed the send buffer bound.",
            registry=reg,
        )
        self.http_requests = Counter(
            "coedit_http_requests",
            "HTTP requests by method, route template and status (WebSocket upgrades count when "
            "the connection ends).",
            ["method", "route", "status"],
            registry=reg,
        )
        self.http_request_duration = Histogram(
            "coedit_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template (WebSocket connections excluded).",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.auth_failures = Counter(
            "coedit_auth_failures",
            "Failed authentications, by reason (see AUTH_FAILURE_REASONS).",
            ["reason"],
            registry=reg,
        )

    def _extension_metrics(self) -> None:
        """Metric objects for the structured-records (entities) sync engine to feed."""
        reg = self.registry
        self.changes_feed_lag = Histogram(
            "coedit_entities_changes_lag_seconds",
            "Age of the oldest change a changes-feed pull returned.",
            buckets=LAG_BUCKETS,
            registry=reg,
        )
        self.outbox_batch_records = Histogram(
            "coedit_entities_outbox_batch_records",
            "Records in one pushed outbox batch.",
            buckets=COUNT_BUCKETS[1:],
            registry=reg,
        )
        self.idempotent_replays = Counter(
            "coedit_entities_idempotent_replays",
            "Pushed mutations recognised as already applied and answered from the record.",
            registry=reg,
        )
        self.entity_conflicts = Counter(
            "coedit_entities_conflicts_resolved",
            "Fields of writes over unseen changes that a merge policy resolved.",
            registry=reg,
        )

    # -- what other components call ---------------------------------------------------------

    def watch(self, *, connections: Callable[[], int], documents: Callable[[], int]) -> None:
        """Read the connection and open-document gauges from these functions at scrape time, so
        that keeping them costs nothing on the hot path."""
        self.connections.set_function(lambda: float(connections()))
        self.open_documents.set_function(lambda: float(documents()))

    def auth_failed(self, reason: str) -> None:
        """Count a failed authentication; ``reason`` outside AUTH_FAILURE_REASONS counts as
        ``other``, so a caller can never blow up the label set."""
        self.auth_failures.labels(reason if reason in AUTH_FAILURE_REASONS else "other").inc()

    def slow_consumer_closed(self) -> None:
        """A connection was cut off for not reading (the outbox's overflow hook)."""
        self.slow_consumers_closed.inc()

    def storage_batch(self, appends: int) -> None:
        """One group-commit transaction committed ``appends`` calls (the stores' batch hook)."""
        self.storage_batch_appends.observe(appends)

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)

    # -- HubObserver ---------------------------------------------------------------------------

    def committed(self, report: CommitReport) -> None:
        ops = len(report.behind)
        self.ops_committed.inc(ops)
        self.commit_batch_ops.observe(ops)
        self.commit_latency.observe(report.commit_seconds)
        self.broadcast_latency.observe(report.fanout_seconds)
        self.op_transforms.observe_many(report.behind)
        self.ack_latency.observe_many(report.waited)

    def rejected(self, code: ErrorCode) -> None:
        self.ops_rejected.labels(code.value).inc()

    def resync_required(self) -> None:
        self.resyncs.inc()

    def consistent(self, seconds: float) -> None:
        self.time_to_consistency.observe(seconds)
