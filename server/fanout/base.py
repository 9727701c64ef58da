"""The fan-out interface the hub depends on.

When several processes serve the same documents, each commits to the shared store and then
publishes a notice ``(doc, version)``. A process that has the document open pulls the ops it
missed from the store — the store stays the single source of truth, so a lost or reordered notice
can delay a broadcast but never corrupt a replica.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

RemoteCommit = Callable[[str, int], None]  # (doc id, version now committed)


class FanOut(Protocol):
    """Publishes this process's commits and reports other processes' commits."""

    async def start(self, on_remote_commit: RemoteCommit) -> None:
        """Connect; ``on_remote_commit`` is called for each notice from another process."""

    async def close(self) -> None:
        """Disconnect."""

    def watch(self, doc_id: str) -> None:
        """Start receiving notices for a document (it was loaded into memory)."""

    def unwatch(self, doc_id: str) -> None:
        """Stop receiving notices for a document (it was evicted)."""

    def publish(self, doc_id: str, version: int) -> None:
        """Announce that this process committed ``doc_id`` up to ``version`` (never blocks)."""
