"""The hot state of one open document: text, version, recent history, subscribers, presence.

Pure bookkeeping with no I/O; the hub loads it from storage and drives its commit pipeline.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ot import TextOperation, transform_selection
from server.hub.subscriber import Subscriber
from server.storage import CommittedOp


@dataclass(slots=True)
class Presence:
    """One connection's cursor and info in one document, kept current at the head version."""

    client_id: str
    user: str | None
    cursor: tuple[int, int] | None
    info: dict[str, Any] | None

    def to_message(self, doc_id: str) -> dict[str, Any]:
        return {
            "type": "presence",
            "doc": doc_id,
            "client": self.client_id,
            "user": self.user,
            "cursor": list(self.cursor) if self.cursor else None,
            "info": self.info,
        }


@dataclass(slots=True)
class PendingSubmit:
    """A submitted op waiting in the document's commit queue."""

    origin: Subscriber | None
    client_id: str
    user: str | None
    seq: int
    base_version: int
    op: TextOperation
    future: asyncio.Future[tuple[int, bool]]
    received: float = field(default_factory=time.perf_counter)  # for the ack latency metric


@dataclass(slots=True)
class Document:
    """An open document's state. ``history`` holds the newest committed ops, oldest first."""

    id: str
    text: str
    version: int
    history_limit: int
    snapshot_version: int = 0
    history: deque[CommittedOp] = field(init=False)
    lengths: deque[int] = field(init=False)  # the text's length after each op of ``history``
    subscribers: set[Subscriber] = field(default_factory=set)
    presence: dict[Subscriber, Presence] = field(default_factory=dict)
    last_seqs: dict[str, int] = field(default_factory=dict)
    pending: list[PendingSubmit] = field(default_factory=list)
    inflight: dict[tuple[str, int], asyncio.Future[tuple[int, bool]]] = field(default_factory=dict)
    committing: bool = False
    behind: bool = False  # another process committed ops this one has not pulled yet
    snapshotting: bool = False
    idle_since: float = 0.0

    def __post_init__(self) -> None:
        self.history = deque(maxlen=self.history_limit)
        self.lengths = deque(maxlen=self.history_limit)

    def history_since(self, version: int) -> list[CommittedOp] | None:
        """Ops committed after ``version`` from memory, or None if memory no longer has them all."""
        if version >= self.version:
            return []
        if not self.history or self.history[0].version > version + 1:
            return None
        start = version + 1 - self.history[0].version
        return [self.history[i] for i in range(start, len(self.history))]

    def length_at(self, version: int) -> int | None:
        """The text's length at ``version``, or None if memory no longer has that version."""
        if version == self.version:
            return len(self.text)
        if not self.history:
            return None
        index = version - self.history[0].version
        return self.lengths[index] if 0 <= index < len(self.lengths) else None

    def committed_version(self, client_id: str, seq: int) -> int | None:
        """The version at which ``(client_id, seq)`` committed, if memory still has it."""
        for entry in reversed(self.history):
            if entry.seq == seq and entry.client_id == client_id:
                return entry.version
        return None

    def advance(self, text: str, ops: list[CommittedOp]) -> None:
        """Record ops just made durable: new text and version, history, seqs, cursors."""
        self.text = text
        self.version = ops[-1].version
        self.history.extend(ops)
        after: list[int] = []  # the length after each op, newest first
        length = len(text)
        for entry in reversed(ops):
            after.append(length)
            length -= entry.op.length_delta
        self.lengths.extend(reversed(after))
        for entry in ops:
            self.last_seqs[entry.client_id] = entry.seq
            for owner, presence in self.presence.items():
                if presence.cursor is not None:
                    own = owner.client_id == entry.client_id
                    presence.cursor = transform_selection(presence.cursor, entry.op, own=own)

    def extend_stored(self, ops: list[CommittedOp]) -> bool:
        """Apply ops read from storage, if they run on from this version; False, changing
        nothing, at a gap (compaction took the ops in between)."""
        if ops[0].version != self.version + 1:
            return False
        text = self.text
        for entry in ops:
            text = entry.op.apply(text)
        self.advance(text, ops)
        return True

    def take_state(self, stored: Document) -> None:
        """Become ``stored`` (the same document, read afresh from storage), keeping this one's
        subscribers and commit queue; what was known of older versions is dropped."""
        self.text, self.version = stored.text, stored.version
        self.snapshot_version = stored.snapshot_version
        self.history, self.lengths = stored.history, stored.lengths
        self.last_seqs.clear()  # read again from storage on the next submission
        self.presence.clear()  # cursors of versions this document no longer knows

    @property
    def is_idle(self) -> bool:
        """No subscriber and nothing in the commit pipeline or waiting to be snapshotted: the
        document may be evicted (a snapshot still queued would compact behind a reload)."""
        return (
            not self.subscribers and not self.committing and not self.pending
            and not self.snapshotting
        )  # fmt: skip
