"""``coedit loadtest``: the command line of the load tester (one subcommand per workload)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from clients.loadtest.options import LoadOptions
from clients.loadtest.target import TargetRefused, parse_target

DESCRIPTION = """\
Load a running coedit server with simulated editors that speak protocol v1 through the real
client state machine (ot.Client), and report throughput, latency percentiles, errors and
whether every replica converged to the server's text.

Workloads (each stops by itself, after --duration seconds or --ops acknowledged edits):
  hot-doc     N editors on one document, closed loop: each makes its next edit as soon as its
              previous one is acknowledged
  many-docs   N editors over M documents (editor i on document i mod M), closed loop
  fan-out     few writers at a fixed total rate, many subscribers: submit-to-receipt latency
              at every subscriber. A client keeps one op in flight (the protocol's rule), and
              edits made meanwhile wait composed into the next op: to submit every edit of a
              high rate, spread it over several writers (the default: 4 for 200 edits/s)
  idle        N open, subscribed, silent connections: the server's memory per connection,
              then how fast new editors get their first edit acknowledged
  catch-up    a client offline while K ops are committed reconnects: time until it converged
  entities    devices push outbox batches (POST /v1/batch) and long-poll the changes feed
              (GET /v1/changes) of one record collection; replays must be recognised

Every run makes new documents (ids lt-<run>-<n>), seeded with --doc-size characters through
REST. With --rate an editing workload runs open loop: edits are scheduled at fixed times and
latency counts from each edit's scheduled time, so a slow server cannot hide its queueing
(no coordinated omission). Ack latency runs from an edit to the ack of the op that carried it;
broadcast latency from an edit to its arrival at each other client of the document.

Editing workloads keep lean replicas in all but the first --replicas clients (default 3):
a lean replica runs every op through the real client state machine but keeps only the
document's length, not its text (see --replicas). At the end every replica must be at the
server's version, and equal its text (GET /v1/docs/{id}), or its length for a lean one.
The exit status is 0 when they all are and no error occurred, 1 otherwise, 2 when the
target was refused. Only loopback addresses are accepted unless --allow-remote.

When the server answers /metrics, the report adds what it says of the measured window: its
CPU, and its own p99s of the ack, the commit, the event loop's lag and the time to
consistency. A loop lag near the ack p99 means the server is CPU-bound; a commit p99 near it,
that its store is slow.
"""

EPILOG = """\
examples:
  taskset -c 0 coedit serve --data-dir /tmp/lt &
  taskset -c 1 coedit loadtest hot-doc --editors 50 --duration 30
  taskset -c 1 coedit loadtest many-docs --editors 500 --docs 250 --processes 2
  taskset -c 1 coedit loadtest fan-out --subscribers 300 --rate 200 --json
  taskset -c 1 coedit loadtest idle --connections 10000 --server-pid "$(pgrep -f 'coedit serve')"
"""

WORKLOAD_DEFAULTS: dict[str, dict[str, Any]] = {
    "hot-doc": {"editors": 50},
    "many-docs": {"editors": 500, "docs": 250},
    "fan-out": {"writers": 4, "subscribers": 300, "rate": 200.0},
    "idle": {"connections": 1000, "docs": 100},
    "catch-up": {},
    "entities": {"editors": 50},
}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``loadtest`` and its workload subcommands to the ``coedit`` command line."""
    loadtest = commands.add_parser(
        "loadtest",
        help="load a running server and report throughput, latency and convergence",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = _common_options()
    workloads = loadtest.add_subparsers(title="workloads", metavar="WORKLOAD", required=True)
    for name, summary in _summaries().items():
        parser = workloads.add_parser(
            name,
            parents=[common],
            help=summary,
            description=f"coedit loadtest {name}: {summary}.",
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        _add_workload_options(parser, name)
        parser.set_defaults(run=run, workload=name)


def _summaries() -> dict[str, str]:
    from clients.loadtest.workloads import WORKLOADS

    return {name: workload.summary for name, workload in WORKLOADS.items()}


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add = common.add_argument
    add("--url", default="http://127.0.0.1:8765", help="base URL of the server under test")
    add("--allow-remote", action="store_true", help="accept a target that is not loopback")
    add("--duration", type=float, default=10.0, help="seconds of measured load")
    add("--ops", type=int, default=None, help="stop after this many edits (all processes)")
    add("--warmup", type=float, default=1.0, help="seconds of load before measuring")
    add("--doc-size", type=int, default=10_240, help="characters of each starting document")
    add("--processes", type=int, default=1, help="load processes to spread the clients over")
    add("--seed", type=int, default=1, help="seed of the random edits")
    add("--connect-concurrency", type=int, default=100, help="connections opened at once")
    add("--drain-timeout", type=float, default=30.0, help="seconds to wait for the last acks")
    add("--json", action="store_true", help="print the report as JSON instead of a table")
    add("--quiet", action="store_true", help="no progress line on stderr")
    return common


def _add_workload_options(parser: argparse.ArgumentParser, name: str) -> None:
    defaults = WORKLOAD_DEFAULTS[name]
    add = parser.add_argument
    if name == "entities":
        add("--devices", dest="editors", metavar="N", type=int, default=defaults["editors"],
            help="devices")  # fmt: skip
        add("--collection", default="loadtest", help="a collection declared on the server, "
            'with "count" a counter field (see docs/entities.md)')  # fmt: skip
        add("--records", type=int, default=1000, help="record ids the writes spread over")
        add("--batch", type=int, default=10, help="writes per outbox push")
        add("--replay-share", type=float, default=0.05,
            help="share of pushes resent with the same idempotency keys")  # fmt: skip
        add("--rate", type=float, default=None,
            help="open loop: total pushes per second (closed loop when unset)")  # fmt: skip
    elif "editors" in defaults:
        add("--editors", type=int, default=defaults["editors"], help="editing connections")
    if "docs" in defaults:
        add("--docs", type=int, default=defaults["docs"], help="documents")
    if name == "fan-out":
        add("--writers", type=int, default=defaults["writers"], help="editing connections")
        add("--subscribers", type=int, default=defaults["subscribers"], help="reading ones")
    if name in ("hot-doc", "many-docs", "fan-out"):
        add("--rate", type=float, default=defaults.get("rate"),
            help="open loop: total edits per second (closed loop when unset)")  # fmt: skip
        add("--presence", action="store_true",
            help="editors also send their cursor after every edit, as an editor's widget "
            "would; the report counts the cursors sent and received")  # fmt: skip
        add("--replicas", type=_replica_count, default=3, metavar="N|all",
            help="clients (the first N, writers first) that keep their document's whole text; "
            "the others keep lean replicas: its length only. A lean replica still runs every "
            "remote op through the client state machine (the transform past its own pending "
            "ops) and edits at random places within the length; it skips building the text. "
            "At the end full replicas must equal the server's text, lean ones its version and "
            "length")  # fmt: skip
    if name == "idle":
        add("--connections", type=int, default=defaults["connections"], help="idle connections")
        add("--server-pid", type=int, default=None,
            help="read the server's memory from /proc/PID (else from /metrics)")  # fmt: skip
        add("--settle", type=float, default=2.0, help="seconds before reading memory")
        add("--probes", type=int, default=10, help="new editors timed to their first ack")
    if name == "catch-up":
        add("--rounds", type=int, default=5, help="times the client goes away and returns")
        add("--offline-ops", type=int, default=1000, help="ops committed while it is away")
        add("--offline-edits", type=int, default=1, help="edits it makes while away")


def _replica_count(value: str) -> int | None:
    if value == "all":
        return None
    count = int(value)
    if count < 0:
        raise argparse.ArgumentTypeError("expected a count of 0 or more, or 'all'")
    return count


def options_from_args(args: argparse.Namespace) -> LoadOptions:
    """The ``LoadOptions`` of parsed arguments (``TargetRefused`` for a refused target)."""
    target = parse_target(args.url, allow_remote=args.allow_remote)
    given = {k: v for k, v in vars(args).items() if k in LoadOptions.__dataclass_fields__}
    given.pop("target", None)
    return LoadOptions(
        target=target,
        max_ops=args.ops,
        progress=not args.quiet,
        **given,
    )


def run(args: argparse.Namespace) -> int:
    """Run the workload and print the report; the exit status says whether it went well."""
    from clients.loadtest.parts import LoadTestError, run_event_loop
    from clients.loadtest.runner import run_loadtest

    try:
        options = options_from_args(args)
    except TargetRefused as exc:
        print(f"coedit loadtest: refused: {exc}", file=sys.stderr)
        return 2
    from server.cli import tune_gc

    tune_gc()  # as the server does: the load generator allocates as much per op
    try:
        report = run_event_loop(run_loadtest(options))
    except (LoadTestError, OSError) as exc:
        print(f"coedit loadtest: {exc}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
    else:
        print(report.table())
    if not report.ok:
        reason = "replicas diverged" if not report.converged else "errors occurred"
        print(f"coedit loadtest: {reason} (see the report)", file=sys.stderr)
        return 1
    return 0
