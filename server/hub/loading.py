"""Reading a document's state from storage: its newest snapshot, then every op after it.

Compaction (``--keep-ops``) may commit between the reads, dropping ops the snapshot read first
did not cover: the ops read then start after a gap. Applying them anyway would build a wrong
text without any error (deletions apply to any text long enough), so a gap restarts the read
from the newer snapshot, which compaction never passes.
"""

from __future__ import annotations

from server.hub.document import Document
from server.hub.history import CATCH_UP_PAGE
from server.storage import DocumentStore, Snapshot, StorageError

READ_ATTEMPTS = 5


async def read_document(
    store: DocumentStore, doc_id: str, history_limit: int, *, create: bool
) -> Document | None:
    """The document as stored, or None if it does not exist and ``create`` is false.
    ``StorageError`` if compaction kept moving the history away for ``READ_ATTEMPTS`` reads."""
    for _ in range(READ_ATTEMPTS):
        snapshot = await store.load_snapshot(doc_id)
        if snapshot is None:
            if not create:
                return None
            await store.create_document(doc_id)
            snapshot = Snapshot("", 0)
        doc = await _replay(store, doc_id, snapshot, history_limit)
        if doc is not None:
            return doc
    raise StorageError(f"document {doc_id!r} kept being compacted while it was read")


async def _replay(
    store: DocumentStore, doc_id: str, snapshot: Snapshot, history_limit: int
) -> Document | None:
    """The snapshot with every later op applied, or None at a gap in the ops."""
    doc = Document(doc_id, snapshot.text, snapshot.version, history_limit)
    doc.snapshot_version = snapshot.version
    while True:
        ops = await store.ops_since(doc_id, doc.version, CATCH_UP_PAGE)
        if not ops:
            return doc
        if not doc.extend_stored(ops):
            return None
