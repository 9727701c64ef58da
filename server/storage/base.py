"""The storage interface the hub depends on. Adapters: ``sqlite`` (embedded default) and
``postgres``. Every adapter passes the same contract suite (``tests/server/storage``).

Versions: a document at version ``v`` is the result of its first ``v`` ops; the op that makes
version ``v`` is stored with ``version = v``. A new document is empty at version 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ot import TextOperation


class StorageError(Exception):
    """The store failed (I/O, corruption, lost connection); the operation may be retried."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document's full text at ``version``."""

    text: str
    version: int


@dataclass(frozen=True, slots=True)
class CommittedOp:
    """One entry of a document's op log: ``op`` turned version ``version - 1`` into ``version``."""

    version: int
    op: TextOperation
    client_id: str
    seq: int
    user: str | None
    time: float  # server clock, Unix seconds


class DocumentStore(Protocol):
    """A durable op log plus periodic snapshots, for many documents.

    ``append`` is the only write on the hot path. It returns only once the ops are durable, and it
    batches the ops that many documents append at about the same time into one transaction (group
    commit), so that concurrent callers share one fsync.
    """

    async def open(self) -> None:
        """Connect and create the schema if it is missing."""

    async def close(self) -> None:
        """Finish pending writes and release connections."""

    async def create_document(self, doc_id: str) -> bool:
        """Create an empty document at version 0; False if it already existed."""

    async def document_exists(self, doc_id: str) -> bool:
        """True if the document was ever created."""

    async def load_snapshot(self, doc_id: str) -> Snapshot | None:
        """The newest stored snapshot (it may lag the op log), or None for an unknown document."""

    async def save_snapshot(
        self, doc_id: str, snapshot: Snapshot, *, compact_to: int | None = None
    ) -> None:
        """Store a snapshot; an older one may be dropped. Idempotent. With ``compact_to``, then
        drop the ops ``compact`` would drop, in the same transaction."""

    async def ops_since(
        self, doc_id: str, version: int, limit: int | None = None
    ) -> list[CommittedOp]:
        """Committed ops with ``op.version > version``, ascending, at most ``limit`` of them."""

    async def oldest_version(self, doc_id: str) -> int:
        """The base version of the oldest op still kept: ops before it were compacted away."""

    async def append(self, doc_id: str, ops: Sequence[CommittedOp]) -> bool:
        """Durably append consecutive ops that start at the log's next version.

        Returns False, writing nothing, when another writer already took ``ops[0].version``: the
        caller lost the race, fetches what it missed with ``ops_since``, rebases and retries.
        """

    async def committed_seq(self, doc_id: str, client_id: str, seq: int) -> int | None:
        """The version at which ``client_id`` committed ``seq`` to the document, if it did."""

    async def last_seq(self, doc_id: str, client_id: str) -> int:
        """The highest seq ``client_id`` committed to the document (0 if none)."""

    async def compact(self, doc_id: str, before_version: int) -> None:
        """Drop ops with ``version <= before_version``; a snapshot at or after it must exist."""
