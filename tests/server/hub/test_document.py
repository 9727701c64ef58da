"""Tests of a document's in-memory bookkeeping (``server.hub.document``), without a server."""

from __future__ import annotations

import random

from ot import TextOperation
from server.hub.document import Document
from server.storage import CommittedOp


def test_length_at_every_version_memory_holds() -> None:
    rnd = random.Random(5)
    doc = Document("d", "abc", version=0, history_limit=7)
    texts = ["abc"]  # the text at each version
    for _ in range(6):  # batches of 1-4 ops: the history rolls over its limit of 7
        text, ops = doc.text, []
        for _ in range(rnd.randint(1, 4)):
            position = rnd.randint(0, len(text))
            deleted = rnd.randint(0, min(2, len(text) - position))
            op = TextOperation.from_edit(position, deleted, "xy"[: rnd.randint(0, 2)] or "z")
            text = op.apply(text)
            texts.append(text)
            ops.append(CommittedOp(len(texts) - 1, op, "c", len(texts) - 1, None, 0.0))
        doc.advance(text, ops)
    oldest_kept = doc.history[0].version
    for version, text in enumerate(texts):
        expected = len(text) if version >= oldest_kept else None
        assert doc.length_at(version) == expected, version
    assert doc.length_at(doc.version + 1) is None
