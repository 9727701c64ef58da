"""Benchmark: ``ot.transform`` throughput on random concurrent pairs of small ops.

The pairs model what a hub sees from people typing in one document: inserts and deletes of 1-3
characters and small replacements, at random positions of a 10 KB text. Pairs are generated from a
seed before timing, and a sample is checked against TP1 so the benchmark cannot measure garbage.
With ``--behind N`` it times the hub's rebase step instead: ``transform_against`` of an op made
``N`` versions ago past the ``N`` ops committed since, checked against folding ``transform``.
Standard library and ``ot`` only.
"""

from __future__ import annotations

import argparse
import gc
import random
import string
import sys
import time
from collections.abc import Sequence

from ot import TextOperation, transform, transform_against

TARGET_PAIRS_PER_SECOND = 200_000
ALPHABET = string.ascii_letters + string.digits + "      \n"

Pair = tuple[TextOperation, TextOperation]


def random_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(ALPHABET, k=length))


def random_op(rng: random.Random, text_length: int, replace_share: float) -> TextOperation:
    """An insert or a delete of 1-3 characters, or (with ``replace_share``) a replacement.

    A replacement deletes 1-3 characters and inserts 1-3 in their place: two edit components.
    """
    deleted = rng.randint(1, 3)
    roll = rng.random()
    if roll < replace_share:
        inserted = rng.randint(1, 3)
    elif roll < replace_share + (1 - replace_share) / 2:
        deleted, inserted = 0, rng.randint(1, 3)
    else:
        inserted = 0
    position = rng.randint(0, text_length - deleted)
    return TextOperation.from_edit(position, deleted, random_text(rng, inserted))


def random_pairs(
    rng: random.Random, count: int, text_length: int, replace_share: float
) -> list[Pair]:
    return [
        (random_op(rng, text_length, replace_share), random_op(rng, text_length, replace_share))
        for _ in range(count)
    ]


def check_tp1(text: str, pairs: Sequence[Pair]) -> None:
    """Exit 1 unless ``b2.apply(a.apply(s)) == a2.apply(b.apply(s))`` for every pair."""
    for index, (a, b) in enumerate(pairs):
        a2, b2 = transform(a, b)
        if b2.apply(a.apply(text)) != a2.apply(b.apply(text)):
            print(f"error: TP1 fails for pair {index}: a={a!r}, b={b!r}", file=sys.stderr)
            sys.exit(1)


def fresh(op: TextOperation) -> TextOperation:
    """A new op equal to ``op``, as just received: nothing about it computed yet (an op keeps
    its region once transform has read it, and a later round must not time that for free)."""
    return TextOperation.from_normal_json(list(op.components))


def time_round(pairs: Sequence[Pair]) -> float:
    """Transform every pair, as new ops, once and return the wall time."""
    pairs = [(fresh(a), fresh(b)) for a, b in pairs]
    gc.collect()  # start each round from the same heap state; the collector stays on while timed
    started = time.perf_counter()
    for a, b in pairs:
        transform(a, b)
    return time.perf_counter() - started


def run(pairs: Sequence[Pair], rounds: int) -> float:
    """Time ``rounds`` rounds over all pairs, printing each; return the best time."""
    times: list[float] = []
    for r in range(1, rounds + 1):
        times.append(time_round(pairs))
        print(
            f"  round {r}/{rounds}: {times[-1]:.3f} s, {len(pairs) / times[-1]:,.0f} pairs/s",
            flush=True,
        )
    return min(times)


def report(pairs: int, rounds: int, best: float) -> None:
    rate = pairs / best
    verdict = "met" if rate >= TARGET_PAIRS_PER_SECOND else "MISSED"
    print(f"best of {rounds}: {pairs:,} pairs in {best:.3f} s")
    print(f"  {rate:,.0f} pairs/s, {best / pairs * 1e6:.2f} us/pair")
    print(f"  target >= {TARGET_PAIRS_PER_SECOND:,} pairs/s: {verdict}")


Rebase = tuple[TextOperation, Sequence[TextOperation]]


def random_rebases(
    rng: random.Random, count: int, behind: int, text_length: int, replace_share: float
) -> list[Rebase]:
    """``count`` ops, each made against a version ``behind`` ops before the head of one shared
    history of consecutive edits, with the ``behind`` committed ops it must be rebased past."""
    history: list[TextOperation] = []
    lengths = [text_length]  # the text's length before each history op
    for _ in range(count + behind):
        history.append(random_op(rng, lengths[-1], replace_share))
        lengths.append(lengths[-1] + history[-1].length_delta)
    return [
        (random_op(rng, lengths[start], replace_share), history[start : start + behind])
        for start in range(count)
    ]


def check_rebases(rebases: Sequence[Rebase]) -> None:
    """Exit 1 unless ``transform_against`` equals folding ``transform`` over the same ops."""
    for index, (op, committed) in enumerate(rebases):
        folded = op
        for c in committed:
            folded, _ = transform(folded, c)
        if transform_against(op, committed) != folded:
            print(f"error: rebase {index} differs from folding transform: {op!r}", file=sys.stderr)
            sys.exit(1)


def time_rebases(rebases: Sequence[Rebase]) -> float:
    """Rebase every op, as a new op, once and return the wall time. The committed ops are the
    same in every round, as a hub keeps its history."""
    rebases = [(fresh(op), committed) for op, committed in rebases]
    gc.collect()
    started = time.perf_counter()
    for op, committed in rebases:
        transform_against(op, committed)
    return time.perf_counter() - started


def run_rebases(args: argparse.Namespace, rng: random.Random) -> None:
    count = max(1, args.pairs // args.behind)
    rebases = random_rebases(rng, count, args.behind, args.text_length, args.replace_share)
    checked = rng.sample(rebases, min(args.check, len(rebases)))
    check_rebases(checked)
    print(
        f"{count:,} ops rebased past {args.behind} committed ops each (seed {args.seed}); "
        f"equal to folding transform on {len(checked):,} sampled ops"
    )
    times: list[float] = []
    for r in range(1, args.rounds + 1):
        times.append(time_rebases(rebases))
        print(f"  round {r}/{args.rounds}: {times[-1]:.3f} s", flush=True)
    best = min(times)
    print(f"best of {args.rounds}: {best / count * 1e6:.2f} us per rebased op, "
          f"{best / (count * args.behind) * 1e9:.0f} ns per committed op passed")  # fmt: skip


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ot_transform",
        description=(
            "Measure ot.transform(a, b) throughput on seeded random pairs of concurrent small "
            "ops against one text: inserts and deletes of 1-3 characters and replacements "
            "(delete 1-3, insert 1-3) at random positions. The pairs are generated before "
            "timing; a sample is first checked against TP1 "
            "(b2.apply(a.apply(s)) == a2.apply(b.apply(s))). Prints the best round in pairs "
            f"per second (target: >= {TARGET_PAIRS_PER_SECOND:,})."
        ),
    )
    add = parser.add_argument
    add("--pairs", type=int, default=200_000, help="pairs per round (default: %(default)s)")
    add("--rounds", type=int, default=5, help="timed rounds, best counts (default: %(default)s)")
    add("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    add("--text-length", type=int, default=10_000, help="text length (default: %(default)s)")
    add(
        "--replace-share",
        type=float,
        default=0.2,
        help="share of replacements; the rest is half inserts, half deletes (default: %(default)s)",
    )
    add("--check", type=int, default=5_000, help="pairs checked for TP1 (default: %(default)s)")
    add(
        "--behind",
        type=int,
        default=0,
        help="time the hub's rebase of an op made this many versions ago instead (default: off)",
    )
    args = parser.parse_args(argv)
    if min(args.pairs, args.rounds) < 1 or args.text_length < 3 or min(args.check, args.behind) < 0:
        parser.error(
            "--pairs and --rounds must be >= 1, --text-length >= 3, --check and --behind >= 0"
        )
    if not 0 <= args.replace_share <= 1:
        parser.error("--replace-share must be between 0 and 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    if args.behind:
        run_rebases(args, rng)
        return
    text = random_text(rng, args.text_length)
    pairs = random_pairs(rng, args.pairs, args.text_length, args.replace_share)
    checked = rng.sample(pairs, min(args.check, len(pairs)))
    check_tp1(text, checked)
    print(
        f"{len(pairs):,} pairs against a {len(text):,}-character text (seed {args.seed}, "
        f"replace share {args.replace_share}); TP1 holds on {len(checked):,} sampled pairs"
    )
    best = run(pairs, args.rounds)
    report(len(pairs), args.rounds, best)


if __name__ == "__main__":
    main()
