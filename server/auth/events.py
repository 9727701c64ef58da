"""Audit log entries: who did what, when, from where, to which object. Plain data."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from server.auth.acl import Resource


class AuditKind(StrEnum):
    """The kinds of event the audit log records (other components may add their own strings)."""

    DOC_OPENED = "doc.opened"
    OP_COMMITTED = "op.committed"
    ACL_CHANGED = "acl.changed"
    ENTITY_WRITTEN = "entity.written"
    AUTH_FAILED = "auth.failed"
    ACCESS_DENIED = "access.denied"


_NO_DETAIL: Mapping[str, Any] = MappingProxyType({})


class AuditEntry(NamedTuple):
    """One event. ``id`` is assigned by the store, increasing in the order entries were recorded.

    Immutable, and a named tuple rather than a frozen dataclass: one is built on the event loop
    for every committed op, and a frozen dataclass takes about three times as long to build.
    """

    kind: str
    time: float  # Unix seconds
    user: str | None
    remote: str | None  # the client's address as the server saw it
    resource: Resource | None = None
    detail: Mapping[str, Any] = _NO_DETAIL
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The REST form: ``{"id", "time", "kind", "user", "remote", "doc"|"collection", ...}``."""
        body: dict[str, Any] = {
            "id": self.id,
            "time": self.time,
            "kind": self.kind,
            "user": self.user,
            "remote": self.remote,
        }
        if self.resource is not None:
            body[self.resource.kind.value] = self.resource.id
        body["detail"] = dict(self.detail)
        return body
