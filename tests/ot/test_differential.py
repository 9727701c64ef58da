"""Differential test: ``ot`` must compute exactly what ShareDB's text type, ``ot-text-unicode``,
computes on thousands of seeded random cases (apply, compose, transform, cursors, normal form).

``tests/ot/node/oracle.js`` makes the cases and ot-text-unicode's results under Node.js; its npm
dependencies are installed on first use. Without Node.js or npm the tests skip (fail in CI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ot import TextOperation, transform, transform_index, transform_side
from ot.components import Component
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.node

NODE_DIR = Path(__file__).parent / "node"
PACKAGES = ("ot-text-unicode", "ot-fuzzer")
SEEDS = tuple(range(1, 9))  # 8 x 1000 cases; seed 0 feeds the coverage guard
CASES_PER_SEED = 1000
SHOWN_MISMATCHES = 3

# The ops of a case, as ot-text-unicode gave them; each must survive our normalization unchanged.
OP_KEYS = ("a", "b", "b_after_a", "compose", "a_left", "a_right", "b_left", "b_right")

Case = dict[str, Any]
Check = tuple[str, object, object]  # (what is compared, our result, ot-text-unicode's result)


@pytest.fixture(scope="session")
def node() -> str:
    """The ``node`` executable, once the oracle's npm dependencies are installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        skip_or_fail("Node.js and npm are needed to run ot-text-unicode; install Node.js 20")
        raise AssertionError("unreachable: skip_or_fail raises")
    if not all((NODE_DIR / "node_modules" / name).is_dir() for name in PACKAGES):
        _npm_install(npm)
    return node


def _npm_install(npm: str) -> None:
    command = [npm, "install", "--no-audit", "--no-fund"]
    try:
        subprocess.run(command, cwd=NODE_DIR, check=True, capture_output=True, timeout=100)
    except subprocess.CalledProcessError as exc:
        tail = "\n".join(exc.stderr.decode(errors="replace").strip().splitlines()[-5:])
        skip_or_fail(f"`npm install` in {NODE_DIR} failed (exit {exc.returncode}):\n{tail}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        skip_or_fail(f"`npm install` in {NODE_DIR} failed: {exc}")


def _oracle(node: str, seed: int, count: int) -> list[Case]:
    """Run oracle.js; its output has one JSON case per line."""
    command = [node, "oracle.js", str(seed), str(count)]
    result = subprocess.run(
        command, cwd=NODE_DIR, capture_output=True, encoding="utf-8", check=False, timeout=60
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` in {NODE_DIR} exited {result.returncode}:\n{result.stderr}"
        )
    # Not splitlines(): it would also split at U+2028 and friends inside the JSON strings.
    return [json.loads(line) for line in result.stdout.split("\n") if line]


def _wire(op: list[Any]) -> list[Component]:
    """ot-text-unicode's op form to ours: a delete ``{"d": n}`` becomes ``-n``."""
    return [-c["d"] if isinstance(c, dict) else c for c in op]


def _checks(case: Case) -> Iterator[Check]:
    def versus(check: str, ours: TextOperation, key: str) -> Check:
        return check, ours.to_json(), _wire(case[key])

    doc = case["doc"]
    a, b, b_after_a = (TextOperation(_wire(case[key])) for key in ("a", "b", "b_after_a"))
    yield "a.apply(doc) vs apply(doc, a)", a.apply(doc), case["apply"]
    yield versus("a.compose(b_after_a) vs compose(a, b_after_a)", a.compose(b_after_a), "compose")
    # Our transform(a, b) is ot-text-unicode's pair (transform(a, b, 'left'),
    # transform(b, a, 'right')): the first argument wins ties.
    a_left, b_right = transform(a, b)
    b_left, a_right = transform(b, a)
    yield versus("transform(a, b)[0] vs transform(a, b, 'left')", a_left, "a_left")
    yield versus("transform(a, b)[1] vs transform(b, a, 'right')", b_right, "b_right")
    yield versus("transform(b, a)[0] vs transform(b, a, 'left')", b_left, "b_left")
    yield versus("transform(b, a)[1] vs transform(a, b, 'right')", a_right, "a_right")
    side = transform_side(a, b, left=False)
    yield versus("transform_side(a, b, left=False) vs transform(a, b, 'right')", side, "a_right")
    for cursor, theirs in enumerate(case["cursors"]):
        ours = transform_index(cursor, a)
        yield f"transform_index({cursor}, a) vs transformPosition({cursor}, a)", ours, theirs
    yield (
        "TextOperation(shattered).to_json() vs normalize(shattered)",
        TextOperation(_wire(case["shattered"])).to_json(),
        _wire(case["normalized"]),
    )
    for key in OP_KEYS:
        op = _wire(case[key])
        yield f"TextOperation({key}).to_json() vs {key}", TextOperation(op).to_json(), op


def _describe(seed: int, index: int, case: Case, check: str, ours: object, theirs: object) -> str:
    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False)

    return "\n".join(
        [
            f"seed {seed}, case {index} (line {index + 1} of "
            f"`node tests/ot/node/oracle.js {seed} {CASES_PER_SEED}`): {check}",
            f"    case:   {dump(case)}",
            f"    ours:   {dump(ours)}",
            f"    theirs: {dump(theirs)}",
        ]
    )


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: f"seed={seed}")
def test_matches_ot_text_unicode(node: str, seed: int) -> None:
    mismatches: list[str] = []
    for index, case in enumerate(_oracle(node, seed, CASES_PER_SEED)):
        try:
            checks = list(_checks(case))
        except Exception as exc:
            raise AssertionError(
                _describe(seed, index, case, "ot raised", repr(exc), "(no error)")
            ) from exc
        mismatches.extend(
            _describe(seed, index, case, check, ours, theirs)
            for check, ours, theirs in checks
            if ours != theirs
        )
    assert not mismatches, (
        f"{len(mismatches)} results differ from ot-text-unicode; the first:\n"
        + "\n".join(mismatches[:SHOWN_MISMATCHES])
    )


def test_oracle_covers_ties_and_astral_text(node: str) -> None:
    """Guard the test above against an oracle that stopped making the hard cases."""
    cases = _oracle(node, 0, CASES_PER_SEED)
    ties = sum(case["a_left"] != case["a_right"] for case in cases)
    astral = sum(any(ord(ch) > 0xFFFF for ch in case["doc"]) for case in cases)
    assert len(cases) == CASES_PER_SEED
    assert ties >= CASES_PER_SEED // 10, f"only {ties} cases where the tie-break matters"
    assert astral >= CASES_PER_SEED // 2, f"only {astral} documents hold astral code points"
