"""Test data for the OT suite: hypothesis strategies for texts full of Unicode traps and for ops
that fit a text, their seeded-``random`` twins for the simulations, and a normal-form check.

Positions count code points, so the texts mix one-code-point characters with multi-code-point
clusters (a ZWJ family emoji, a letter plus a combining accent, CRLF) that an op may cut through.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Sequence

from hypothesis import strategies as st

from ot import TextOperation
from ot.components import Component

#: The hypothesis profile of this run (registered in ``conftest.py``); heavy tests scale with it.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
IN_CI = PROFILE == "ci"

#: Pieces of text that break code-unit or grapheme assumptions: astral-plane emoji (two UTF-16
#: units each), a ZWJ sequence of five code points, a combining mark, CRLF, the last code point.
ATOMS: tuple[str, ...] = (
    "a",
    "b",
    "Z",
    " ",
    "\n",
    "\r\n",
    "e\u0301",
    "😀",
    "👩\u200d👩\u200d👧",
    "𝄞",
    "中",
    "\u200d",
    "\ufeff",
    "\U0010ffff",
)

# Generation is the cost of the property tests (TP1 alone runs 10,000 cases in CI), so a text is
# drawn as one string: either of stand-ins for ``ATOMS`` (private-use code points, expanded into
# the atoms afterwards), or of any code points but lone surrogates. Atom texts come twice as often.
_STAND_INS = "".join(chr(0xE000 + i) for i in range(len(ATOMS)))
_EXPAND = str.maketrans(dict(zip(_STAND_INS, ATOMS, strict=True)))


def _compact_texts(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    atom_texts = st.text(st.sampled_from(_STAND_INS), min_size=min_size, max_size=max_size)
    any_texts = st.text(
        st.characters(exclude_categories=["Cs"]), min_size=min_size, max_size=max_size
    )
    return st.one_of(atom_texts, atom_texts, any_texts)


def _expand(compact: str) -> str:
    return compact.translate(_EXPAND)


#: Texts of up to 12 atoms or code points, the empty string included (shrinks towards it).
texts = _compact_texts(0, 12).map(_expand)

_insert_pools = _compact_texts(1, 6)

#: Non-empty text to insert.
inserts = _insert_pools.map(_expand)


@st.composite
def raw_components(draw: st.DrawFn, text: str) -> list[Component]:
    """Wire-form components that fit ``text``, *not* normalized.

    Same-kind neighbours are not merged and deletes and inserts come in any order; the op may
    stop short of the end of ``text`` or explicitly retain or delete up to it.
    """
    # One byte per step, for speed: its residue mod 3 picks retain, delete or insert, the rest
    # its length, 1 to 6 (retains and deletes are clamped to the text left). Inserts take their
    # atoms in turn from a pool.
    steps = draw(st.binary(max_size=10))
    pool = draw(_insert_pools) if any(b % 3 == 2 for b in steps) else ""
    remaining = len(text)
    taken = 0
    out: list[Component] = []
    for b in steps:
        kind, n = b % 3, 1 + b // 3 % 6
        if kind == 2:
            out.append(_expand("".join(pool[(taken + i) % len(pool)] for i in range(n))))
            taken += n
            continue
        n = min(n, remaining)
        if n:
            remaining -= n
            out.append(n if kind == 0 else -n)
    ending = draw(st.sampled_from(("stop short", "retain to the end", "delete to the end")))
    if remaining and ending != "stop short":
        out.append(remaining if ending == "retain to the end" else -remaining)
    return out


def ops_for(text: str) -> st.SearchStrategy[TextOperation]:
    """Operations that can be applied to ``text`` (``base_length <= len(text)``)."""
    return raw_components(text).map(TextOperation)


@st.composite
def text_and_op(draw: st.DrawFn) -> tuple[str, TextOperation]:
    """A text and an op that fits it."""
    text = draw(texts)
    return text, draw(ops_for(text))


@st.composite
def text_and_concurrent_ops(draw: st.DrawFn) -> tuple[str, TextOperation, TextOperation]:
    """A text and two ops made concurrently against it."""
    text = draw(texts)
    return text, draw(ops_for(text)), draw(ops_for(text))


@st.composite
def text_and_op_run(
    draw: st.DrawFn, min_size: int = 0, max_size: int = 5
) -> tuple[str, list[TextOperation]]:
    """A text and a run of consecutive ops: each one fits the text the previous ones produced."""
    text = draw(texts)
    current = text
    run: list[TextOperation] = []
    for _ in range(draw(st.integers(min_size, max_size))):
        op = draw(ops_for(current))
        run.append(op)
        current = op.apply(current)
    return text, run


def random_text(rng: random.Random, max_atoms: int = 8) -> str:
    """A text of ``ATOMS`` for the seeded simulations, which do not run under hypothesis."""
    return "".join(rng.choice(ATOMS) for _ in range(rng.randint(0, max_atoms)))


def random_op(rng: random.Random, text: str) -> TextOperation:
    """A random op that fits ``text``: one or two edits, each a delete and an insert (in either
    order)."""
    out: list[Component] = []
    remaining = len(text)
    for _ in range(rng.randint(1, 2)):
        keep = rng.randint(0, remaining)
        delete = rng.randint(0, min(3, remaining - keep))
        remaining -= keep + delete
        edit: Sequence[Component] = [-delete, random_text(rng, 3)]
        if rng.random() < 0.5:
            edit = edit[::-1]
        out.extend([keep, *edit])
    return TextOperation(c for c in out if c)


def assert_normal_form(op: TextOperation) -> None:
    """Fail unless ``op`` is in normal form: no empty component, no two adjacent components of
    one kind, no trailing retain, and rebuilding it from its components changes nothing."""
    kinds = [_kind(c) for c in op.components]
    assert all(type(c) in (int, str) and c != 0 and c != "" for c in op.components), op
    assert all(k1 != k2 for k1, k2 in itertools.pairwise(kinds)), op
    assert not kinds or kinds[-1] != "retain", op
    assert TextOperation(op.components) == op


def _kind(c: Component) -> str:
    if isinstance(c, str):
        return "insert"
    return "retain" if c > 0 else "delete"
