"""Row encoding shared by the auth store adapters."""

from __future__ import annotations

from typing import Any

import orjson

from server.auth.acl import AccessList, Resource, ResourceKind
from server.auth.events import AuditEntry

AuditRow = tuple[float, str, str | None, str | None, str | None, str | None, str]


def encode_acl(acl: AccessList) -> str:
    return orjson.dumps(acl.to_json()).decode()


def decode_acl(body: str | None) -> AccessList | None:
    return None if body is None else AccessList.from_json(orjson.loads(body))


def encode_entry(entry: AuditEntry) -> AuditRow:
    """(time, kind, user, remote, object_kind, object_id, detail)."""
    resource = entry.resource
    return (
        entry.time,
        str(entry.kind),
        entry.user,
        entry.remote,
        None if resource is None else resource.kind.value,
        None if resource is None else resource.id,
        orjson.dumps(dict(entry.detail)).decode(),
    )


def decode_entry(row: Any) -> AuditEntry:
    """From (id, time, kind, user, remote, object_kind, object_id, detail)."""
    entry_id, time, kind, user, remote, object_kind, object_id, detail = row
    resource = None if object_kind is None else Resource(ResourceKind(object_kind), object_id)
    return AuditEntry(kind, time, user, remote, resource, orjson.loads(detail), entry_id)
