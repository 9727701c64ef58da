"""Storage for the op log and snapshots: an interface and its adapters (SQLite, PostgreSQL)."""

from server.storage.base import CommittedOp, DocumentStore, Snapshot, StorageError

__all__ = ["CommittedOp", "DocumentStore", "Snapshot", "StorageError"]
