"""Row encoding shared by the auth store adapters."""

from __future__ import annotations

from collections.abc import Mapping
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
        _encode_detail(entry.detail),
    )


def _encode_detail(detail: Mapping[str, Any]) -> str:
    # orjson takes a dict, not any Mapping; record() hands over its own kwargs dict, uncopied.
    return orjson.dumps(detail if type(detail) is dict else dict(detail)).decode()


def decode_entry(row: Any) -> AuditEntry:
    """From (id, time, kind, user, remote, object_kind, object_id, detail)."""
    entry_id, time, kind, user, remote, object_kind, object_id, detail = row
    resource = None if object_kind is None else Resource(ResourceKind(object_kind), object_id)
    return AuditEntry(kind, time, user, remote, resource, orjson.loads(detail), entry_id)
