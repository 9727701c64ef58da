"""Everything one load test run is told: the workload, its sizes and its bounds."""

from __future__ import annotations

from dataclasses import dataclass

from clients.loadtest.target import Target

WORKLOADS = ("hot-doc", "many-docs", "fan-out", "idle", "catch-up", "entities")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """One run. Every workload stops by itself: after ``duration`` seconds or ``max_ops`` acked
    submissions, whichever comes first (idle and catch-up have their own, smaller bounds)."""

    workload: str
    target: Target
    editors: int = 50  # hot-doc, many-docs: editing connections; entities: devices
    docs: int = 1  # many-docs, idle: documents the connections spread over
    writers: int = 1  # fan-out
    subscribers: int = 300  # fan-out
    connections: int = 1000  # idle
    rate: float | None = None  # total edits per second (open loop); None: closed loop
    replicas: int | None = 3  # editing workloads: clients 0..replicas-1 keep the whole text,
    # the others lean replicas (length only); None: every client keeps the text
    presence: bool = False  # editing workloads: a cursor update after every edit
    duration: float = 10.0
    max_ops: int | None = None
    warmup: float = 0.0  # seconds of load before measuring starts
    doc_size: int = 10_240  # characters each document starts with
    processes: int = 1
    seed: int = 1
    connect_concurrency: int = 100
    drain_timeout: float = 30.0
    server_pid: int | None = None  # idle: read the server's RSS from /proc
    settle: float = 2.0  # idle: seconds to wait before reading memory
    probes: int = 10  # idle: new editors timed to their first ack
    rounds: int = 5  # catch-up
    offline_ops: int = 1000  # catch-up: ops committed while the client is away
    offline_edits: int = 1  # catch-up: edits the client makes while away
    collection: str = "loadtest"  # entities: the collection the devices sync
    records: int = 1000  # entities: record ids the writes spread over
    batch: int = 10  # entities: writes per outbox push
    replay_share: float = 0.05  # entities: pushes sent twice with the same idempotency keys
    progress: bool = True  # a live line on stderr

    @property
    def open_loop(self) -> bool:
        return self.rate is not None
