r"""Transform: rebase concurrent operations onto each other, and move cursors through operations.

``transform(a, b)`` takes two ops made against the same text and returns ``(a2, b2)`` such that
applying ``a`` then ``b2`` gives the same text as applying ``b`` then ``a2`` (TP1)::

        a          (client op)  ──▶
      /   \
    s       s·a ── b2 ──▶ s·a·b2
      \   /               ║
        b          s·b ── a2 ──▶ s·b·a2

When both insert at the same position, ``a``'s text goes first (``a`` is the *left* side). The hub
passes the incoming op as ``a``, as ShareDB and ot.js do. The results equal ShareDB's
``ot-text-unicode`` (``transform(a, b, 'left')`` and ``transform(b, a, 'right')``) exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

from ot.components import Component, push, trimmed
from ot.operation import TextOperation
from ot.regions import Region, rebased, shifted


def transform(a: TextOperation, b: TextOperation) -> tuple[TextOperation, TextOperation]:
    """Return ``(a2, b2)``: ``a`` rebased past ``b``, ``b`` rebased past ``a``; ``a`` wins ties."""
    a_region = a.region
    if a_region is not None:
        b_region = b.region
        if b_region is not None:
            a2 = rebased(a_region, b_region)
            if a2 is a_region:  # a entirely before b: b shifts
                return a, TextOperation._of_region(shifted(b_region, a_region))
            if a2 is not None:  # a entirely after b: a shifts
                return TextOperation._of_region(a2), b
    ac, bc = a.components, b.components
    return TextOperation._of(_walk(ac, bc, True)), TextOperation._of(_walk(bc, ac, False))


def transform_side(op: TextOperation, other: TextOperation, *, left: bool) -> TextOperation:
    """Rebase ``op`` past the concurrent ``other``; ``left`` says whether ``op`` wins ties."""
    region = op.region
    if region is not None:
        other_region = other.region
        if other_region is not None:
            moved = rebased(region, other_region)
            if moved is not None:
                return _moved(op, region, moved)
    return TextOperation._of(_walk(op.components, other.components, left))


def _moved(op: TextOperation, region: Region, moved: Region) -> TextOperation:
    return op if moved is region else TextOperation._of_region(moved)


def transform_against(op: TextOperation, committed: Sequence[TextOperation]) -> TextOperation:
    """Rebase ``op`` past a run of consecutive committed ops, winning every tie.

    This is the server's transform-to-head step: ``op`` was made against the version before the
    first of ``committed``, and the result applies to the text after the last.
    """
    start = 0
    region = op.region
    if region is not None:
        # ``rebased`` in a loop, unrolled: a hot-document op is rebased past dozens of others.
        position, deleted, inserted = region
        for c in committed:
            other = c.region
            if other is None:
                break
            other_position, other_deleted, other_inserted = other
            if other_position + other_deleted < position:
                position += len(other_inserted) - other_deleted
            elif position + deleted >= other_position:
                break  # touching or overlapping: the general walk decides
            start += 1
        if position != region[0]:
            op = TextOperation._of_region((position, deleted, inserted))
    for c in committed[start:]:
        if op.is_noop:
            break
        op = transform_side(op, c, left=True)
    return op


def transform_index(index: int, op: TextOperation, *, own: bool = False) -> int:
    """Move a cursor position (a code point index) through ``op``.

    An insert exactly at the cursor leaves the cursor before it, unless ``own`` says the cursor
    belongs to the author of ``op``, whose caret follows the text they typed. Deleted text
    collapses the cursor to the start of the deletion. Monotonic: ``i <= j`` implies
    ``transform_index(i) <= transform_index(j)``.
    """
    pos = 0
    for c in op.components:
        if index < pos or (index == pos and not own):
            break
        if isinstance(c, str):
            pos += len(c)
            index += len(c)
        elif c > 0:
            pos += c
        else:
            index -= min(-c, index - pos)
    return index


def transform_selection(
    selection: tuple[int, int], op: TextOperation, *, own: bool = False
) -> tuple[int, int]:
    """Move a selection ``(anchor, head)`` through ``op``; see ``transform_index``."""
    anchor, head = selection
    return transform_index(anchor, op, own=own), transform_index(head, op, own=own)


def _walk(op: Sequence[Component], other: Sequence[Component], left: bool) -> tuple[Component, ...]:
    """The general case of ``transform_side``.

    Walks ``other`` and consumes ``op`` over the same stretch of the original text. Inserts in
    ``op`` are never split: they read nothing of the original text.
    """
    if not other:
        return tuple(op)
    out: list[Component] = []
    n = len(op)
    i = 0
    off = 0  # how much of op[i] is consumed (a retain's or delete's length; never an insert's)
    for c2 in other:
        if isinstance(c2, str):
            if left and i < n and isinstance(op[i], str):
                push(out, op[i])  # both insert here: the left side's text goes first
                i += 1
            push(out, len(c2))
            continue
        keep = c2 > 0
        length = c2 if keep else -c2
        while length > 0 and i < n:
            c = op[i]
            if isinstance(c, str):
                push(out, c)
                i += 1
                continue
            rem = (c if c > 0 else -c) - off
            take = rem if rem <= length else length
            if keep:
                push(out, take if c > 0 else -take)
            length -= take
            if take == rem:
                i += 1
                off = 0
            else:
                off += take
    if i < n:
        c = op[i]
        if off and isinstance(c, int):  # only a retain or a delete is ever consumed in part
            c = c - off if c > 0 else c + off
        push(out, c)
        for c in op[i + 1 :]:
            push(out, c)
    return trimmed(out)
