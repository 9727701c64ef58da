"""Benchmark: CPU per op appended to the SQLite op log, as the hub appends under many-docs load.

Groups of ``--group`` single-op appends to different documents (out of ``--docs``) are submitted
in one event-loop turn, so the store commits each group in one transaction, with
``synchronous=FULL`` as the server runs by default. Prints this process's CPU time
(``time.process_time``: the event loop and the writer thread) per append: the figure to compare
between two versions of the store in alternating runs.

    .venv/bin/python -m benchmarks.storage_append
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ot import TextOperation
from server.storage import CommittedOp
from server.storage.sqlite import SqliteStore

EDIT = TextOperation.from_json([5, "{18f3c2a9}", -10])  # a load-test edit: insert a token, delete


async def cpu_per_append(directory: Path, docs: int, group: int, groups: int) -> float:
    store = SqliteStore(directory / "coedit.db", synchronous="FULL")
    await store.open()
    names = [f"doc-{n}" for n in range(docs)]
    heads = dict.fromkeys(names, 1)
    seed = TextOperation.from_json(["x" * 64])
    await asyncio.gather(
        *(store.append(d, [CommittedOp(1, seed, "seed", 1, None, 0.0)]) for d in names)
    )
    appended = 0
    started = time.process_time()
    for g in range(groups):
        calls = []
        for doc in dict.fromkeys(names[(g * group + k) % docs] for k in range(group)):
            heads[doc] += 1
            op = CommittedOp(heads[doc], EDIT, f"client-{doc}", heads[doc], "alice", time.time())
            calls.append(store.append(doc, [op]))
        if not all(await asyncio.gather(*calls)):
            raise SystemExit("an append lost its version: the benchmark is broken")
        appended += len(calls)
    spent = time.process_time() - started
    await store.close()
    return spent / appended


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=250)
    parser.add_argument("--group", type=int, default=27, help="appends per transaction")
    parser.add_argument("--groups", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    best = float("inf")
    for round_ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="coedit-append-") as directory:
            spent = asyncio.run(cpu_per_append(Path(directory), args.docs, args.group, args.groups))
        best = min(best, spent)
        print(f"round {round_ + 1}: {spent * 1e6:.1f} µs CPU per append")
    print(f"best of {args.rounds}: {best * 1e6:.1f} µs CPU per append")
    return 0


if __name__ == "__main__":
    sys.exit(main())
