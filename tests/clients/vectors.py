"""Test vectors for the JavaScript client, computed by the Python core (``ot/``).

The JS port (``clients/js/ot.js``, ``clients/js/ot-client.js``) must reproduce every result
exactly: apply, compose, invert, transform, cursor transform, diff, normal form, error cases and
the client state machine, on seeded random cases whose texts mix ASCII with astral characters
(emoji, skin tones, ZWJ sequences, flags) — where code points and UTF-16 units differ.

Run as a script to write the vectors to a file: ``python -m tests.clients.vectors out.json``.
"""

from __future__ import annotations

import json
import random
import sys
from collections import deque
from pathlib import Path
from typing import Any

from ot import Client, InvalidOperation, LengthMismatch, TextOperation, transform, transform_index
from ot.components import Component

# Pieces of text; several are more than one code point, and most astral ones are 2 UTF-16 units
# per code point, so any off-by-one between the two units shows up.
PIECES = (
    "a", "b", "c", "x", " ", "\n", "é", "ß", "中", "文", "😀", "🎉", "\U0001d4b3", "👍🏽",
    "e\u0301", "👨\u200d👩\u200d👧", "🇺🇸", "\u2028",
)  # fmt: skip

Vector = dict[str, Any]


def random_text(rng: random.Random, max_pieces: int = 12) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, max_pieces)))


def random_op(rng: random.Random, text: str) -> TextOperation:
    """A random op that fits ``text``: retains, deletes and inserts, possibly ending early."""
    components: list[Component] = []
    pos, length = 0, len(text)
    while pos < length and rng.random() > 0.1:
        kind = rng.random()
        n = rng.randint(1, max(1, min(5, length - pos)))
        if kind < 0.4:
            components.append(n)
            pos += n
        elif kind < 0.7:
            components.append(-n)
            pos += n
        else:
            components.append(random_text(rng, 3) or "z")
    if rng.random() < (0.9 if not components else 0.3):
        components.append(random_text(rng, 3) or "y")
    return TextOperation(components)


def _split(rng: random.Random, c: Component) -> list[Component]:
    """Cut a component into same-kind pieces (a non-normal spelling of the same op)."""
    if isinstance(c, str):
        if len(c) < 2:
            return [c]
        cut = rng.randint(1, len(c) - 1)
        return [c[:cut], c[cut:]]
    magnitude = abs(c)
    if magnitude < 2:
        return [c]
    cut = rng.randint(1, magnitude - 1)
    sign = 1 if c > 0 else -1
    return [sign * cut, sign * (magnitude - cut)]


def op_case(rng: random.Random) -> Vector:
    doc = random_text(rng)
    a, b = random_op(rng, doc), random_op(rng, doc)
    after_a = a.apply(doc)
    c = random_op(rng, after_a)
    a2, b2 = transform(a, b)
    after_b = b.apply(doc)
    raw = [piece for component in a.components for piece in _split(rng, component)]
    if rng.random() < 0.5:
        raw.append(rng.randint(1, 4))  # a trailing retain, dropped by normalization
    indices = sorted({rng.randint(0, len(doc)) for _ in range(4)})
    return {
        "doc": doc,
        "a": a.to_json(),
        "b": b.to_json(),
        "c": c.to_json(),
        "a_base_length": a.base_length,
        "a_length_delta": a.length_delta,
        "apply_a": after_a,
        "apply_b": after_b,
        "compose_a_c": a.compose(c).to_json(),
        "apply_compose": c.apply(after_a),
        "invert_a": a.invert(doc).to_json(),
        "transform_a_b": [a2.to_json(), b2.to_json()],
        "converged": b2.apply(after_a),
        "indices": [
            [i, own, transform_index(i, a, own=own)] for i in indices for own in (False, True)
        ],
        "diff_doc_b": TextOperation.from_diff(doc, after_b).to_json(),
        "raw_a": raw,
        "too_short": doc[: max(0, a.base_length - 1)] if a.base_length else None,
    }


def invalid_ops() -> list[Any]:
    """Ops both cores must reject, each checked against the Python core here."""
    cases: list[Any] = [
        [0], [""], [1.5], [True], [None], [[1]], [{}], ["ok", "\ud800"], ["\udfff"], [2**53],
        [-(2**53)], "not a list", {"ops": []},
    ]  # fmt: skip
    for case in cases:
        try:
            TextOperation.from_json(case)
        except InvalidOperation:
            continue
        raise AssertionError(f"the Python core accepted the invalid op {case!r}")
    return cases


def client_scenario(rng: random.Random, steps: int = 40) -> Vector:
    """A client and a server exchanging messages in a random order; each call the client made,
    with the result the Python state machine gave, for the JS one to repeat.
    """
    client = Client(0)
    server_text, local_text = "", ""
    history: list[TextOperation] = []
    inbox: deque[tuple[str, TextOperation | None]] = deque()  # server → client, in order
    sent: deque[tuple[int, TextOperation]] = deque()  # client → server: (base version, op)
    calls: list[Vector] = []

    def record(call: Vector) -> None:
        call["version"], call["pending"] = client.version, client.pending_count
        calls.append(call)

    def submitted(submission: Any) -> Any:
        if submission is None:
            return None
        sent.append((submission.base_version, submission.op))
        return [submission.seq, submission.base_version, submission.op.to_json()]

    def commit_submission() -> None:
        nonlocal server_text
        base, op = sent.popleft()
        for committed in history[base:]:
            op, _ = transform(op, committed)  # the hub's transform-to-head, op on the left
        server_text = op.apply(server_text)
        history.append(op)
        inbox.append(("ack", None))

    def deliver() -> None:
        nonlocal local_text
        _, op = inbox.popleft()
        if op is None:
            record({"call": "ack", "result": submitted(client.server_ack())})
        else:
            local = client.apply_server(op)
            local_text = local.apply(local_text)
            record({"call": "remote", "op": op.to_json(), "result": local.to_json()})

    for _ in range(steps):
        roll = rng.random()
        if roll < 0.35:
            op = random_op(rng, local_text)
            local_text = op.apply(local_text)
            result = submitted(client.apply_client(op))
            record({"call": "local", "op": op.to_json(), "result": result})
        elif roll < 0.55 and sent:
            commit_submission()
        elif roll < 0.7:
            op = random_op(rng, server_text)
            server_text = op.apply(server_text)
            history.append(op)
            inbox.append(("op", op))
        elif inbox:
            deliver()
        else:
            resubmission = client.resubmission()
            result = None
            if resubmission is not None:
                result = [resubmission.seq, resubmission.base_version, resubmission.op.to_json()]
            record({"call": "resubmission", "result": result})
    while sent or inbox:  # quiesce: every replica must then hold the same text
        if sent:
            commit_submission()
        else:
            deliver()
    assert local_text == server_text, "the Python client diverged from its server"
    return {"calls": calls, "text": server_text}


def make_vectors(seed: int = 1, count: int = 1500) -> Vector:
    """Every vector the JS tests check, from one seed."""
    rng = random.Random(seed)
    ops = [op_case(rng) for _ in range(count)]
    mismatches = [case for case in ops if case["too_short"] is not None]
    for case in mismatches:
        try:
            TextOperation(case["a"]).apply(case["too_short"])
        except LengthMismatch:
            continue
        raise AssertionError("an op applied to a text shorter than its base length")
    return {
        "seed": seed,
        "ops": ops,
        "invalid": invalid_ops(),
        "clients": [client_scenario(rng) for _ in range(max(1, count // 10))],
    }


def write_vectors(path: Path, seed: int = 1, count: int = 1500) -> Path:
    """Write the vectors as JSON (ASCII-escaped, so lone surrogates survive) and return ``path``."""
    path.write_text(json.dumps(make_vectors(seed, count)), encoding="ascii")
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "vectors.json")
    print(write_vectors(target))
