"""Reading a document's committed history from memory or storage, and the messages that carry
committed ops. Shared by the hub's read paths and its commit pipeline."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from server.hub.document import Document
from server.hub.observer import HubObserver
from server.hub.subscriber import Subscriber
from server.protocol.errors import ErrorCode, ProtocolError
from server.storage import CommittedOp, DocumentStore, StorageError

log = logging.getLogger(__name__)

CATCH_UP_PAGE = 1000


class History:
    """Reads the committed ops of open documents: from memory when it still has them, else from
    storage. Reports every request for history that is no longer kept to the observer."""

    def __init__(self, store: DocumentStore, observer: HubObserver) -> None:
        self._store = store
        self._observer = observer

    async def since(self, doc: Document, version: int) -> list[CommittedOp]:
        """Every op after ``version`` up to the head.

        The result reaches ``doc.version`` at the moment it is returned (no await follows the
        last read), so a caller can register a subscriber without a gap.
        """
        ops: list[CommittedOp] = []
        while True:
            in_memory = doc.history_since(version)
            if in_memory is not None:
                return ops + in_memory
            page = await self.page(doc, version, CATCH_UP_PAGE)
            ops.extend(page)
            version = page[-1].version

    async def page(self, doc: Document, since: int, limit: int) -> list[CommittedOp]:
        """Up to ``limit`` ops after ``since`` from storage, starting exactly at ``since + 1``."""
        try:
            ops = await self._store.ops_since(doc.id, since, limit)
        except StorageError as exc:
            raise unavailable(exc, doc.id) from exc
        self.check_contiguous(doc, since, ops)
        return ops

    def check_contiguous(self, doc: Document, since: int, ops: list[CommittedOp]) -> None:
        """Raise ``resync_required`` when storage no longer has the op right after ``since``."""
        if since < doc.version and (not ops or ops[0].version != since + 1):
            self._observer.resync_required()
            raise ProtocolError(
                ErrorCode.RESYNC_REQUIRED,
                f"the history of {doc.id!r} after version {since} is no longer kept: reopen "
                "the document without a version and rebase local edits on its text",
                doc=doc.id,
                version=doc.version,
            )


def unavailable(exc: Exception, doc_id: str) -> ProtocolError:
    """The client-facing error for a storage failure (logged here, once)."""
    log.error("storage failed for document %r: %s", doc_id, exc)
    return ProtocolError(
        ErrorCode.UNAVAILABLE,
        "storage is unavailable; nothing was committed, retry later",
        doc=doc_id,
    )


def future_version(doc: Document, version: int, head: int | None = None) -> ProtocolError:
    """The error for a version the document has not reached."""
    head = doc.version if head is None else head
    return ProtocolError(
        ErrorCode.VERSION_FROM_FUTURE,
        f"version {version} is newer than {doc.id!r}, which is at version {head}",
        doc=doc.id,
        version=head,
    )


def op_entry(entry: CommittedOp) -> dict[str, Any]:
    """A committed op as it appears in ``opened.ops`` and ``op`` messages."""
    return {
        "version": entry.version,
        "op": entry.op.to_json(),
        "client": entry.client_id,
        "seq": entry.seq,
        "user": entry.user,
    }


def op_message(doc_id: str, entry: CommittedOp) -> bytes:
    """The encoded ``op`` message of a committed op, encoded once for every subscriber."""
    return orjson.dumps({"type": "op", "doc": doc_id, **op_entry(entry)})


def broadcast(doc: Document, message: bytes, *, skip: Subscriber | None) -> None:
    """Queue an encoded message for every subscriber of ``doc`` but ``skip``."""
    for subscriber in doc.subscribers:
        if subscriber is not skip:
            subscriber.relay(message)
