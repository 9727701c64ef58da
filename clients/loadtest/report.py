"""The result of a run: as a table for people, as JSON for machines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from clients.loadtest.latency import LatencyHistogram
from clients.loadtest.options import LoadOptions
from clients.loadtest.stats import PartStats

SATURATED = 0.9  # load CPU above this share of a core: the generator, not the server, limits
PRESENCE_COUNTS = ("presence_sent", "presence_received")
PERCENTILES = ("p50", "p90", "p99", "p99.9", "max")
# The server's own p99s over the window. A loop lag near the ack p99 means a CPU-bound server;
# a commit p99 near it, a slow store; a time to consistency above it, slow sockets.
_SERVER_P99S = (
    ("ack_p99", "ack p99"),
    ("commit_p99", "commit p99"),
    ("loop_lag_p99", "loop lag p99"),
    ("ttc_p99", "time to consistency p99"),
)
# What the counts and latencies are, per workload: (unit, item, ack row, broadcast row).
UNITS = {
    "*": ("ops", "edits", "ack latency", "broadcast latency"),
    "entities": ("pushes", "writes", "push latency", "feed latency"),
}


@dataclass(slots=True)
class Report:
    """Everything a run measured. ``server`` holds what ``/metrics`` said over the window."""

    options: LoadOptions
    run_id: str
    started: str  # UTC, ISO 8601
    processes: int
    stats: PartStats
    server: dict[str, float] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return not self.stats.diverged and not self.stats.extra.get("diverged_unreported")

    @property
    def ok(self) -> bool:
        """Converged and without a single error."""
        return self.converged and not self.stats.errors

    @property
    def throughput(self) -> float:
        seconds = self.stats.measured_seconds
        return self.stats.acked / seconds if seconds else math.nan

    @property
    def load_cpu(self) -> float:
        """The load processes' CPU time over the window, as a share of one core."""
        seconds = self.stats.measured_seconds
        return self.stats.cpu_seconds / seconds if seconds else math.nan

    def to_json(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "workload": self.options.workload,
            "mode": "open loop" if self.options.open_loop else "closed loop",
            "target": self.options.target.http_url,
            "run": self.run_id,
            "started": self.started,
            "processes": self.processes,
            "options": _options_json(self.options),
            "window_seconds": stats.measured_seconds,
            "throughput_ops_per_second": self.throughput,
            "acked_ops": stats.acked,
            "acked_edits": stats.acked_edits,
            "edits": stats.edits,
            "submitted": stats.submitted,
            "received_ops": stats.received,
            "ack_latency_seconds": stats.ack.summary(),
            "broadcast_latency_seconds": stats.broadcast.summary(),
            "timings_seconds": {name: h.summary() for name, h in sorted(stats.timings.items())},
            "errors": dict(sorted(stats.errors.items())),
            "replicas_checked": stats.replicas,
            "replicas_lean": stats.lean_replicas,
            "converged": self.converged,
            "diverged": stats.diverged,
            "load_cpu_share": self.load_cpu,
            "extra": stats.extra,
            "server": self.server,
        }

    def table(self) -> str:
        rows = [
            ("workload", f"{self.options.workload}, {self._mode()}"),
            ("target", f"{self.options.target.http_url} (run {self.run_id}, "
                       f"{self.processes} process{'es' if self.processes > 1 else ''})"),
        ]  # fmt: skip
        rows += self._load_rows()
        rows += [(name, _latency(h)) for name, h in sorted(self.stats.timings.items())]
        rows += self._memory_rows()
        rows.append(("errors", _errors(self.stats)))
        rows.append(("convergence", self._convergence()))
        rows += self._server_rows()
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    def _mode(self) -> str:
        if self.options.workload in ("idle", "catch-up"):
            return "latency probes"
        if self.options.rate is None:
            return "closed loop (next edit after the ack)"
        return f"open loop at {self.options.rate:,.0f} edits/s"

    def _load_rows(self) -> list[tuple[str, str]]:
        stats = self.stats
        if not stats.measured_seconds:
            return []
        load = f"{self.load_cpu:.0%} of one core"
        if self.load_cpu > SATURATED:
            load += " (saturated: the figures are a lower bound for the server)"
        unit, item, ack, cast = UNITS.get(self.options.workload, UNITS["*"])
        return [
            ("window", f"{stats.measured_seconds:.1f} s after {self.options.warmup:g} s warm-up"),
            ("throughput", f"{self.throughput:,.0f} {unit}/s acknowledged ({stats.acked:,} "
                           f"{unit}, {stats.acked_edits:,} {item})"),
            (ack, _latency(stats.ack)),
            (cast, _latency(stats.broadcast)),
            *self._presence_rows(),
            ("load CPU", load),
        ]  # fmt: skip

    def _presence_rows(self) -> list[tuple[str, str]]:
        if not self.options.presence:
            return []
        sent, received = (int(self.stats.extra.get(k, 0)) for k in PRESENCE_COUNTS)
        return [("presence", f"{sent:,} cursors sent, {received:,} received from others")]

    def _memory_rows(self) -> list[tuple[str, str]]:
        extra = self.stats.extra
        if "server_bytes_per_connection" not in extra:
            return []
        return [
            ("server memory", f"{extra['server_rss_before'] / 2**20:,.1f} MiB before, "
                              f"{extra['server_rss_after'] / 2**20:,.1f} MiB with "
                              f"{self.options.connections:,} connections"),
            ("per connection", f"{extra['server_bytes_per_connection'] / 1024:,.1f} KiB"),
        ]  # fmt: skip

    def _convergence(self) -> str:
        stats = self.stats
        if self.converged:
            if not stats.lean_replicas:
                return f"ok: {stats.replicas:,} replicas equal the server's text"
            full = stats.replicas - stats.lean_replicas
            return (
                f"ok: {stats.replicas:,} replicas at the server's version: {full:,} equal its "
                f"text, {stats.lean_replicas:,} lean ones its length"
            )
        unreported = int(stats.extra.get("diverged_unreported", 0))
        lines = [f"FAILED: {len(stats.diverged) + unreported:,} of {stats.replicas:,} replicas"]
        lines += [f"  {problem}" for problem in stats.diverged]
        return "\n".join(lines)

    def _server_rows(self) -> list[tuple[str, str]]:
        server = self.server
        if not server:
            return []
        cpu = f"CPU {server['cpu_share']:.0%} of one core"
        if not math.isnan(server["cpu_per_op"]):
            cpu += f" ({server['cpu_per_op'] * 1e6:,.0f} µs per op)"
        parts = [cpu, f"{server['committed']:,.0f} ops committed"]
        for key, label in _SERVER_P99S:
            if not math.isnan(server.get(key, math.nan)):
                parts.append(f"{label} ≤ {_ms(server[key])}")
        return [("server (/metrics)", "; ".join(parts))]


def _latency(histogram: LatencyHistogram) -> str:
    if not histogram.count:
        return "no samples"
    summary = histogram.summary()
    figures = "  ".join(f"{p} {_ms(summary[p])}" for p in PERCENTILES)
    return f"{figures}  ({histogram.count:,} samples)"


def _ms(seconds: float) -> str:
    if math.isinf(seconds):
        return "∞"
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _errors(stats: PartStats) -> str:
    if not stats.errors:
        return "none"
    return ", ".join(f"{code} {count:,}" for code, count in sorted(stats.errors.items()))


def _options_json(options: LoadOptions) -> dict[str, Any]:
    fields = {name: getattr(options, name) for name in options.__dataclass_fields__}
    fields["target"] = options.target.http_url
    return fields
