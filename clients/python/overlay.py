"""The optimistic view of a record: its server data with the replica's pending writes applied,
as the server would apply them (docs/entities.md: merge patch, ``$inc``, ``$add``/``$remove``).
Pure. The server stays the authority: its answer replaces this guess when the write is pushed.
"""

from __future__ import annotations

from typing import Any

_OPERATORS = frozenset({"$inc", "$add", "$remove"})


def apply_write(data: dict[str, Any] | None, op: str, body: dict[str, Any] | None) -> Any:
    """``data`` after a ``put``, ``patch`` or ``delete`` (``None``: the record is gone)."""
    if op == "delete":
        return None
    body = body or {}
    if op == "put":
        return {name: _field(None, value) for name, value in body.items()}
    result = dict(data or {})
    for name, value in body.items():
        if value is None:
            result.pop(name, None)
        elif _is_operator(value):
            result[name] = _field(result.get(name), value)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch, RFC 7396 section 2."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def _is_operator(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= _OPERATORS


def _field(stored: Any, value: Any) -> Any:
    if not _is_operator(value):
        return value
    if "$inc" in value:
        base = stored if isinstance(stored, int | float) and not isinstance(stored, bool) else 0
        return base + value["$inc"]
    members = [
        m for m in (stored if isinstance(stored, list) else []) if m not in value.get("$remove", [])
    ]
    for member in value.get("$add", []):
        if member not in members:
            members.append(member)
    return members
