"""A character diff as an op: the edit that turns one text into another. Pure.

``TextOperation.from_diff`` finds the one region between the common prefix and suffix; that is
exact for a single edit but, for two edits far apart, also "replaces" everything in between —
and a concurrent change there would be rebased as if it had been deleted under it. When the
text was changed out of band (in an editor, or by a server that lost its history), ``diff``
keeps every unchanged stretch inside that region as a retain, so concurrent edits merge where
they belong.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from ot import TextOperation
from ot.components import Component


def diff(old: str, new: str) -> TextOperation:
    """An op with ``diff(old, new).apply(old) == new`` that retains what the texts share."""
    single = TextOperation.from_diff(old, new)
    prefix = 0
    deleted = 0
    inserted = ""
    for c in single.components:
        if isinstance(c, str):
            inserted = c
        elif c > 0:
            prefix = c
        else:
            deleted = -c
    if not deleted or not inserted:
        return single  # a pure insert or a pure delete: nothing inside is shared
    removed = old[prefix : prefix + deleted]
    matcher = SequenceMatcher(None, removed, inserted, autojunk=False)
    components: list[Component] = [prefix] if prefix else []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            components.append(i2 - i1)
            continue
        if i2 > i1:
            components.append(i1 - i2)
        if j2 > j1:
            components.append(inserted[j1:j2])
    return TextOperation(components)
