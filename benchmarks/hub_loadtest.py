"""Benchmark: the hub under the load tester's workloads, server and load on separate cores.

For each workload: start a fresh server (``benchmarks.hub_serve``: the real server with the abuse
limits off) on core 0 with an empty data directory, run ``coedit loadtest`` on core 1, stop the
server. Prints one summary line per run and writes every report as JSON.

Shared machines lie: the line also gives how busy the two cores were with *other* processes
during the run (from ``/proc/stat`` minus this benchmark's own CPU time). Runs where that share
is high measure the neighbours, not coedit.

    .venv/bin/python -m benchmarks.hub_loadtest hot-doc many-docs fan-out idle catch-up
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PRESETS: dict[str, list[str]] = {
    "hot-doc": ["hot-doc", "--editors", "50"],
    "many-docs": ["many-docs", "--editors", "500", "--docs", "250"],
    # Four writers: one client keeps one op in flight, so a lone writer's ops carry several
    # edits each once its round trip nears 5 ms; four at 50 edits/s each submit every edit.
    "fan-out": ["fan-out", "--writers", "4", "--subscribers", "300", "--rate", "200"],
    "fan-out-1": ["fan-out", "--writers", "1", "--subscribers", "300", "--rate", "200"],
    # Open loop at the target rate: with 500 editors in closed loop, Little's law ties the mean
    # ack latency to 500 / throughput (100 ms at 5,000 ops/s), whatever the server does.
    "many-docs-5k": ["many-docs", "--editors", "500", "--docs", "250", "--rate", "5000"],
    "idle": ["idle", "--connections", "10000", "--docs", "100"],
    "catch-up": ["catch-up", "--rounds", "5", "--offline-ops", "1000"],
    "entities": ["entities", "--devices", "50", "--records", "1000", "--batch", "10"],
}
# Server flags a workload needs: the entities workload syncs a declared collection.
SERVE_FLAGS: dict[str, list[str]] = {
    "entities": ["--entities-config", str(Path(__file__).with_name("hub_entities.json"))],
}


def cpu_ticks() -> tuple[int, int]:
    """Busy and total jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of a process (and its waited-for children)."""
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in parts[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def run_one(name: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="coedit-bench-"))
    url = f"http://127.0.0.1:{args.port}"
    python = sys.executable
    serve = ["taskset", "-c", "0", python, "-m", "benchmarks.hub_serve", "--port",
             str(args.port), "--data-dir", str(data), "--log-level", "WARNING",
             *SERVE_FLAGS.get(name, []), *args.serve_args]  # fmt: skip
    server = subprocess.Popen(serve, cwd=root, stdout=subprocess.DEVNULL)
    try:
        wait_ready(url)
        load = ["taskset", "-c", "1", python, "-m", "server.cli", "loadtest", *PRESETS[name],
                "--url", url, "--duration", str(args.duration), "--json", "--quiet",
                "--server-pid", str(server.pid), *args.load_args]  # fmt: skip
        if name != "idle":
            load.remove("--server-pid")
            load.remove(str(server.pid))
        busy0, total0 = cpu_ticks()
        server_cpu0 = process_cpu(server.pid)
        started = time.monotonic()
        done = subprocess.run(load, cwd=root, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
        busy1, total1 = cpu_ticks()
        server_cpu = process_cpu(server.pid) - server_cpu0
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    if not done.stdout.strip():
        raise SystemExit(f"{name}: the load tester failed: {done.stderr.strip()}")
    report: dict[str, Any] = json.loads(done.stdout)
    machine_busy = (busy1 - busy0) / (total1 - total0) * 2  # in cores, of 2
    report["bench"] = {
        "wall_seconds": wall,
        "server_cpu_seconds": server_cpu,
        "exit_status": done.returncode,
        "machine_busy_cores": machine_busy,
    }
    return report


def number(value: Any) -> float:
    """A figure of a JSON report (JSON has no NaN: an absent figure arrives as null)."""
    return float("nan") if value is None else float(value)


def summary(name: str, report: dict[str, Any]) -> str:
    ack, cast = report["ack_latency_seconds"], report["broadcast_latency_seconds"]
    server = report.get("server", {})
    bench = report["bench"]
    parts = [
        f"{name:<10}",
        f"{number(report['throughput_ops_per_second']):>8,.0f} ops/s",
        f"ack p50/p99 {number(ack['p50']) * 1e3:.1f}/{number(ack['p99']) * 1e3:.1f} ms",
        f"bcast p99 {number(cast['p99']) * 1e3:.1f} ms",
        f"server {number(server.get('cpu_per_op')) * 1e6:,.0f} µs/op",
        f"load CPU {number(report['load_cpu_share']):.0%}",
        f"machine busy {bench['machine_busy_cores']:.2f}/2 cores",
        f"converged={report['converged']} errors={sum(report['errors'].values())}",
    ]
    for timing, figures in report["timings_seconds"].items():
        p50, p99 = number(figures["p50"]) * 1e3, number(figures["p99"]) * 1e3
        parts.append(f"{timing} p50/p99 {p50:.1f}/{p99:.1f} ms")
    per_connection = report["extra"].get("server_bytes_per_connection")
    if per_connection is not None:
        parts.append(f"{per_connection / 1024:.1f} KiB/connection")
    return "  ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workloads", nargs="*", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per run")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="source tree to run")
    parser.add_argument("--out", type=Path, default=Path("hub_loadtest.json"))
    parser.add_argument(
        "--serve-args",
        type=shlex.split,
        default=[],
        help='extra server flags, e.g. --serve-args="--sqlite-synchronous NORMAL"',
    )
    parser.add_argument(
        "--load-args",
        type=shlex.split,
        default=[],
        help='extra loadtest flags, e.g. --load-args="--processes 2"',
    )
    args = parser.parse_args(argv)
    reports = {}
    for name in args.workloads:
        reports[name] = run_one(name, args, args.root.resolve())
        print(summary(name, reports[name]), flush=True)
    args.out.write_text(json.dumps(reports, indent=2))
    return 0 if all(r["converged"] for r in reports.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
