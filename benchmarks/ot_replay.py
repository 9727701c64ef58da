"""Benchmark: replay a real keystroke trace through the OT core, against bare string slicing.

Every patch becomes ``TextOperation.from_edit(pos, del, ins)`` and is applied; the same patches
are also applied with ``s[:pos] + ins + s[pos + del:]``. Both replays must end at the trace's
``endContent``. Standard library and ``ot`` only.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ot import TextOperation

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRACE = (REPO_ROOT.parent / "shared" / "traces" / "automerge-paper.json.gz").resolve()
TRACE_SOURCE = (
    "https://github.com/josephg/editing-traces (sequential_traces/automerge-paper.json.gz)"
)
TARGET_RATIO = 1.5

Patch = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class Trace:
    """A parsed trace: its transactions flattened into one list of patches, in order."""

    start: str
    end: str
    transactions: int
    patches: list[Patch]


def load_trace(path: Path) -> Trace:
    """Read and parse a gzip JSON trace (outside any timed region)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    patches = [
        (pos, deleted, inserted)
        for txn in data["txns"]
        for pos, deleted, inserted in txn["patches"]
    ]
    return Trace(data["startContent"], data["endContent"], len(data["txns"]), patches)


def replay_coedit(start: str, patches: Sequence[Patch]) -> str:
    """Replay through the OT core: build each patch as an operation, then apply it."""
    from_edit = TextOperation.from_edit
    s = start
    for pos, deleted, inserted in patches:
        s = from_edit(pos, deleted, inserted).apply(s)
    return s


def replay_bare(start: str, patches: Sequence[Patch]) -> str:
    """Replay with plain slicing: the floor any pure-Python replay can hope to reach."""
    s = start
    for pos, deleted, inserted in patches:
        s = s[:pos] + inserted + s[pos + deleted :]
    return s


Replay = Callable[[str, Sequence[Patch]], str]


def timed_replay(replay: Replay, trace: Trace, name: str) -> float:
    """Run one replay and return its wall time; exit 1 if it does not reach ``endContent``."""
    gc.collect()  # start each run from the same heap state; the collector stays on while timed
    started = time.perf_counter()
    text = replay(trace.start, trace.patches)
    elapsed = time.perf_counter() - started
    if text != trace.end:
        mismatch = describe_mismatch(text, trace.end)
        print(f"error: {name} replay does not reach endContent: {mismatch}", file=sys.stderr)
        sys.exit(1)
    return elapsed


def describe_mismatch(got: str, want: str) -> str:
    at = next((i for i, (x, y) in enumerate(zip(got, want, strict=False)) if x != y), None)
    if at is None:
        at = min(len(got), len(want))
    return f"length {len(got)} vs {len(want)}, first difference at code point {at}"


def run(trace: Trace, rounds: int) -> tuple[float, float]:
    """Time both replays ``rounds`` times, interleaved; return the best (bare, coedit) times."""
    bare: list[float] = []
    coedit: list[float] = []
    for r in range(1, rounds + 1):
        bare.append(timed_replay(replay_bare, trace, "bare"))
        coedit.append(timed_replay(replay_coedit, trace, "coedit"))
        print(
            f"  round {r}/{rounds}: bare {bare[-1]:.3f} s, coedit {coedit[-1]:.3f} s, "
            f"ratio {coedit[-1] / bare[-1]:.2f}",
            flush=True,
        )
    return min(bare), min(coedit)


def report(trace: Trace, rounds: int, bare: float, coedit: float) -> None:
    edits = len(trace.patches)
    ratio = coedit / bare
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"best of {rounds} (both replays reached endContent):")
    for label, seconds in (
        ("bare    s[:pos] + ins + s[pos+n:]", bare),
        ("coedit  from_edit(...).apply(s)", coedit),
    ):
        print(f"  {label:<36}{seconds:7.3f} s {edits / seconds:>11,.0f} edits/s")
    print(f"  ratio coedit/bare  {ratio:.2f}   (target <= {TARGET_RATIO}: {verdict})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ot_replay",
        description=(
            "Replay a keystroke-level editing trace (josephg/editing-traces format) through "
            "coedit's OT core - TextOperation.from_edit(pos, del, ins).apply(text) for every "
            "patch - and, in the same run, through bare string slicing. Both replays are checked "
            "against the trace's endContent. Prints the best time of each, edits per second and "
            f"the ratio coedit/bare (target: <= {TARGET_RATIO})."
        ),
        epilog=f"The default trace comes from {TRACE_SOURCE}.",
    )
    parser.add_argument(
        "trace",
        nargs="?",
        type=Path,
        default=DEFAULT_TRACE,
        help="gzip JSON trace to replay (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="how many times to time each replay, interleaved; the best counts (default: 5)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    path: Path = args.trace
    if not path.is_file():
        print(f"error: trace not found at {path}; download it from {TRACE_SOURCE}", file=sys.stderr)
        sys.exit(2)
    try:
        trace = load_trace(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: cannot read trace {path}: {exc!r}", file=sys.stderr)
        sys.exit(2)
    print(
        f"trace {path}: {trace.transactions:,} transactions, {len(trace.patches):,} patches, "
        f"final text {len(trace.end):,} code points"
    )
    bare, coedit = run(trace, args.rounds)
    report(trace, args.rounds, bare, coedit)


if __name__ == "__main__":
    main()
