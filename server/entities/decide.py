"""Decide one write against the record's current state: authorization by owner, preconditions,
merge policies, schema validation, the new version and the conflicts a policy resolved.

Pure: the storage adapters call ``decide`` inside their write transaction, with the current
record they read there, so the decision and the commit see the same state.
"""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import ValidationError

from server.entities.config import Collection
from server.entities.errors import Code, EntityError
from server.entities.model import EVERYONE, Decision, Kind, Record, Response, Write
from server.entities.policies import Merged, apply_patch, apply_put

MAX_SCHEMA_ERRORS = 10


def decide(
    write: Write, collection: Collection, current: Record | None, user: str | None, now: float
) -> Decision:
    """The decision for ``write`` given the stored ``current`` record (None if never written)."""
    try:
        _check_owner(write, collection, current, user)
        _check_preconditions(write, current)
        return _commit(write, collection, current, user, now)
    except EntityError as exc:
        return Decision(Response(exc.status, exc.to_body()))


def _check_owner(
    write: Write, collection: Collection, current: Record | None, user: str | None
) -> None:
    # Authorization comes before any precondition, so a stranger learns nothing from a 412.
    if write.trusted or current is None or not current.live:
        return
    if current.owner is not None and current.owner != user:
        raise EntityError(
            Code.FORBIDDEN,
            f"record {write.id!r} of {write.collection!r} belongs to another user",
        )


def _check_preconditions(write: Write, current: Record | None) -> None:
    live = current if current is not None and current.live else None
    if write.if_none_match and live is not None:
        raise _stale(live, "If-None-Match: * but the record exists")
    if write.if_match is not None and (live is None or live.version != write.if_match):
        held = "does not exist" if live is None else f"is at version {live.version}"
        raise _stale(current, f'If-Match: "{write.if_match}" but the record {held}')
    if write.kind is Kind.DELETE and live is None:
        raise EntityError(
            Code.NOT_FOUND, f"record {write.id!r} of {write.collection!r} does not exist"
        )


def _stale(current: Record | None, why: str) -> EntityError:
    body = current.to_json() if current is not None else None
    return EntityError(
        Code.PRECONDITION_FAILED,
        f"{why}; merge your change into the current record and retry with its version",
        current=body,
    )


def _commit(
    write: Write, collection: Collection, current: Record | None, user: str | None, now: float
) -> Decision:
    live = current if current is not None and current.live else None
    version = (current.version if current is not None else 0) + 1
    if write.kind is Kind.DELETE:
        assert live is not None  # _check_preconditions
        record = Record(
            write.collection,
            write.id,
            version,
            now,
            True,
            None,
            dict(live.field_versions),
            live.owner,
            write.client,
        )
        conflicts = _delete_conflicts(write, live)
        return _decision(record, conflicts, 200, lost_access=None)
    merged = _merge(write, collection, live, user)
    _validate(collection, merged.data)
    owner = _owner(collection, merged.data)
    field_versions = _field_versions(live, merged, version)
    record = Record(
        write.collection,
        write.id,
        version,
        now,
        False,
        merged.data,
        field_versions,
        owner,
        write.client,
    )
    conflicts = _field_conflicts(write, collection, current, merged)
    lost = None
    if live is not None and live.owner != owner:
        lost = EVERYONE if live.owner is None else live.owner
    return _decision(record, conflicts, 200 if live is not None else 201, lost_access=lost)


def _merge(write: Write, collection: Collection, live: Record | None, user: str | None) -> Merged:
    body = dict(write.body or {})
    owner_field = collection.owner_field
    if live is None and owner_field is not None and user is not None:
        body.setdefault(owner_field, user)  # a new record belongs to its creator by default
    current = live.data if live is not None else None
    if write.kind is Kind.PUT:
        return apply_put(collection, current, body, trusted=write.trusted)
    return apply_patch(collection, current, body, trusted=write.trusted)


def _validate(collection: Collection, data: dict[str, Any]) -> None:
    errors = sorted(collection.validator.iter_errors(data), key=lambda e: list(e.path))
    if not errors:
        return
    details = [_schema_error(e) for e in errors[:MAX_SCHEMA_ERRORS]]
    first = details[0]
    raise EntityError(
        Code.SCHEMA_VIOLATION,
        f"data violates the schema of {collection.name!r} at {first['path'] or '/'}: "
        f"{first['message']}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
        errors=details,
    )


def _schema_error(error: ValidationError) -> dict[str, str]:
    path = "".join(f"/{part}" for part in error.absolute_path)
    return {"path": path, "message": error.message}


def _owner(collection: Collection, data: dict[str, Any]) -> str | None:
    if collection.owner_field is None:
        return None
    value = data.get(collection.owner_field)
    return value if isinstance(value, str) else None


def _field_versions(live: Record | None, merged: Merged, version: int) -> dict[str, int]:
    old = live.data if live is not None and live.data is not None else {}
    result = dict(live.field_versions) if live is not None else {}
    for name in set(old) | set(merged.data):
        if old.get(name, _ABSENT) != merged.data.get(name, _ABSENT):
            result[name] = version
    return result


_ABSENT = object()


def _field_conflicts(
    write: Write, collection: Collection, current: Record | None, merged: Merged
) -> list[dict[str, Any]]:
    if write.has_precondition or write.base_version is None or current is None:
        return []
    if not current.live:
        if current.version > write.base_version:
            return [_conflict(None, "lww", "recreated")]  # written over a delete it had not seen
        return []
    conflicts = []
    for name, resolution in sorted(merged.touched.items()):
        if current.field_versions.get(name, 0) > write.base_version:
            conflicts.append(_conflict(name, collection.policy(name).value, resolution))
    return conflicts


def _delete_conflicts(write: Write, live: Record) -> list[dict[str, Any]]:
    if write.has_precondition or write.base_version is None:
        return []
    if live.version > write.base_version:
        return [_conflict(None, "lww", "deleted")]  # deleted over changes it had not seen
    return []


def _conflict(name: str | None, policy: str, resolution: str) -> dict[str, Any]:
    return {"field": name, "policy": policy, "resolution": resolution}


def _decision(
    record: Record, conflicts: list[dict[str, Any]], status: int, *, lost_access: str | None
) -> Decision:
    body = {**record.to_json(), "conflicts": conflicts}
    response = Response(status, body, record.etag)
    return Decision(response, record, lost_access, len(conflicts))
