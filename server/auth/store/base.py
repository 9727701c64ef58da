"""The persistence interface of access lists, client-id bindings and the audit log.

Adapters: ``sqlite`` (a separate ``auth.db`` beside the embedded op log) and ``postgres`` (tables
beside the op log's). Every adapter passes the contract suite in ``tests/server/auth/store``.
Failures raise ``server.storage.StorageError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from server.auth.acl import AccessList, Resource
from server.auth.events import AuditEntry

AclChange = Callable[[AccessList | None], AccessList | None]
"""Given the stored list (None if there is none), the list to store, or None to leave it. It runs
while the object's list is locked, so a check it makes cannot be raced; what it raises propagates
and nothing is written."""


class AuthStore(Protocol):
    """Durable access-control state."""

    async def open(self) -> None:
        """Connect and create the schema if it is missing."""

    async def close(self) -> None:
        """Release connections."""

    async def get_acl(self, resource: Resource) -> AccessList | None:
        """The object's access list, or None if it has none."""

    async def update_acl(self, resource: Resource, change: AclChange) -> AccessList | None:
        """Atomically read, ``change`` and write the object's list; returns the list now stored."""

    async def bind_client(self, doc_id: str, client_id: str, user: str) -> str:
        """Bind ``client_id`` on ``doc_id`` to ``user`` unless bound already; the bound user."""

    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Durably append entries, keeping their order (ids increase along the sequence)."""

    async def read_audit(
        self, resource: Resource | None, after: int, limit: int
    ) -> list[AuditEntry]:
        """Entries with id above ``after``, oldest first, at most ``limit`` (of one object)."""

    async def prune_audit(self, before: float, limit: int) -> int:
        """Delete up to ``limit`` of the oldest entries recorded before ``before`` (Unix
        seconds), never the newest entry of all (ids must keep increasing); how many went."""
