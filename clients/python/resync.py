"""Merging local edits into a document the server had to resend whole. Pure.

When the server no longer keeps the history since the replica's version (``resync_required``),
or is behind it (``version_from_future``: it lost data), the replica reopens without a version
and gets the current text. There is no op history to rebase past, so the server's changes are
recovered as a diff from the text the pending edits apply to, and the pending edits are
transformed past that diff — a three-way merge in OT terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from clients.python.diff import diff
from ot import TextOperation, transform


@dataclass(frozen=True, slots=True)
class Merge:
    """The outcome: the edits to submit on top of the server text, and the local text's change."""

    pending: TextOperation  # applies to the server text
    local_change: TextOperation  # applies to the old local text


def merge(base_text: str, pending: TextOperation | None, server_text: str) -> Merge:
    """Rebase ``pending`` (edits of ``base_text``) onto ``server_text``.

    Invariant: ``local_change.apply(pending.apply(base_text)) == merged.apply(server_text)``,
    by the transform diamond.
    """
    server_change = diff(base_text, server_text)
    if pending is None:
        return Merge(TextOperation(), server_change)
    rebased, local_change = transform(pending, server_change)
    return Merge(rebased, local_change)
