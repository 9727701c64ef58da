"""Fan-out for a single process: there is nobody else to tell."""

from __future__ import annotations

from server.fanout.base import RemoteCommit


class LocalFanOut:
    """The default when one process serves every document: every method does nothing."""

    async def start(self, on_remote_commit: RemoteCommit) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to disconnect."""

    def watch(self, doc_id: str) -> None:
        """No other process commits."""

    def unwatch(self, doc_id: str) -> None:
        """No other process commits."""

    def publish(self, doc_id: str, version: int) -> None:
        """No other process listens."""
