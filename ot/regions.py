"""Transform's fast path: ops that change one region of the text, far apart.

Most ops are one keystroke or one paste: a retain, then a delete and/or an insert. Two such ops
whose regions neither overlap nor touch rebase by arithmetic alone: the later one shifts by the
earlier one's length change, the earlier one stays as it is. Everything else (touching regions,
where insert ties are decided, and ops of several regions) takes the general walk in
``ot.transform``; both paths give identical results (property-tested).
"""

from __future__ import annotations

from collections.abc import Sequence

from ot.components import Component

Region = tuple[int, int, str]
"""``(position, deleted, inserted)``: delete ``deleted`` characters at ``position``, then insert
``inserted`` there."""


def region_of(components: Sequence[Component]) -> Region | None:
    """The region of an op in normal form shaped ``[retain] [delete] [insert]``, else None."""
    n = len(components)
    if not n or n > 3:
        return None
    first = components[0]
    position = first if isinstance(first, int) and first > 0 else 0
    at = 1 if position else 0  # past the retain, if there is one
    if n - at == 1:
        c = components[at]
        if isinstance(c, str):
            return (position, 0, c)
        return (position, -c, "") if c < 0 else None
    if n - at == 2:
        d, c = components[at], components[at + 1]
        if isinstance(d, int) and d < 0 and isinstance(c, str):
            return (position, -d, c)
    return None


def rebased(a: Region, b: Region) -> Region | None:
    """``a`` rebased past the concurrent ``b`` when their regions are apart, else None.

    ``a`` entirely before ``b`` stays as it is; ``a`` entirely after ``b`` moves by ``b``'s
    length change. Touching or overlapping regions return None.
    """
    a_position, a_deleted, _ = a
    b_position, b_deleted, _ = b
    if a_position + a_deleted < b_position:
        return a
    if b_position + b_deleted < a_position:
        return shifted(a, b)
    return None


def shifted(a: Region, earlier: Region) -> Region:
    """``a`` moved by the length change of a region ``earlier`` that ends before it begins."""
    position, deleted, inserted = a
    return (position + len(earlier[2]) - earlier[1], deleted, inserted)


def components_of(position: int, deleted: int, inserted: str) -> tuple[Component, ...]:
    """The normal form of a region (which must change something)."""
    if not deleted:
        return (position, inserted) if position else (inserted,)
    if not inserted:
        return (position, -deleted) if position else (-deleted,)
    return (position, -deleted, inserted) if position else (-deleted, inserted)
