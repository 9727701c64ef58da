"""Field merge policies: how a PUT or PATCH body turns the current ``data`` into the new one.

Policies apply to the top-level fields of ``data``:

- ``lww``: the written value replaces the stored one (a PATCH merges objects, RFC 7396);
  commits are ordered by the server, so the last committed write wins.
- ``counter``: ``{"$inc": n}`` adds ``n`` to the stored number (0 if absent), so increments made
  on several offline devices all count; a plain number sets it.
- ``set``: ``{"$remove": [...], "$add": [...]}`` removes, then adds, members (JSON values compared
  by value), so adds and removes from several devices merge; a plain array replaces the set.
- ``server``: clients cannot write it (``server_field``); a PUT keeps the stored value.

Pure: no I/O. Errors are ``EntityError`` with ``invalid_operator`` or ``server_field``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from server.entities.config import Collection, Policy
from server.entities.errors import Code, EntityError
from server.entities.jsonmerge import merge_patch

OPERATORS = frozenset({"$inc", "$add", "$remove"})
MERGED = "merged"  # the write was combined with a change it had not seen
OVERWRITTEN = "overwritten"  # the write replaced a change it had not seen


@dataclass(frozen=True, slots=True)
class Merged:
    """The new ``data`` and, for each field the write touched, how it would resolve a conflict."""

    data: dict[str, Any]
    touched: Mapping[str, str]


def apply_put(
    collection: Collection,
    current: Mapping[str, Any] | None,
    body: Mapping[str, Any],
    *,
    trusted: bool = False,
) -> Merged:
    """Replace ``data`` with ``body``; counters and sets may still carry operators.

    Server fields are kept from ``current`` (or take their defaults on create).
    """
    old = current or {}
    data: dict[str, Any] = {}
    touched: dict[str, str] = {}
    for name, value in body.items():
        data[name], touched[name] = _field_value(collection, name, old, value, trusted)
    for name, value in old.items():
        if name in data:
            continue
        if collection.policy(name) is Policy.SERVER:
            data[name] = value
        else:
            touched[name] = OVERWRITTEN  # dropped by the replace
    _fill_defaults(collection, data, creating=current is None)
    return Merged(data, touched)


def apply_patch(
    collection: Collection,
    current: Mapping[str, Any] | None,
    patch: Mapping[str, Any],
    *,
    trusted: bool = False,
) -> Merged:
    """Merge ``patch`` into ``data`` (RFC 7396 for lww fields, operators for the others)."""
    old = current or {}
    data = dict(old)
    touched: dict[str, str] = {}
    for name, value in patch.items():
        if value is None:
            _check_writable(collection, name, trusted)
            data.pop(name, None)
            touched[name] = OVERWRITTEN
            continue
        if collection.policy(name) is Policy.LWW and isinstance(value, dict):
            _reject_operators(collection, name, value)
            data[name] = merge_patch(old.get(name), value)
            touched[name] = OVERWRITTEN
            continue
        data[name], touched[name] = _field_value(collection, name, old, value, trusted)
    _fill_defaults(collection, data, creating=current is None)
    return Merged(data, touched)


def _field_value(
    collection: Collection, name: str, old: Mapping[str, Any], value: Any, trusted: bool
) -> tuple[Any, str]:
    policy = _check_writable(collection, name, trusted)
    if policy in (Policy.COUNTER, Policy.SERVER) and _is_operator(value):
        return _increment(collection, name, old.get(name, 0), value), MERGED
    if policy is Policy.SET and _is_operator(value):
        return _merge_set(collection, name, old.get(name, []), value), MERGED
    if policy is Policy.SET and isinstance(value, list):
        return _unique(value), OVERWRITTEN
    if isinstance(value, dict):
        _reject_operators(collection, name, value)
    return value, OVERWRITTEN


def _check_writable(collection: Collection, name: str, trusted: bool) -> Policy:
    policy = collection.policy(name)
    if policy is Policy.SERVER and not trusted:
        raise EntityError(
            Code.SERVER_FIELD,
            f"field {name!r} of {collection.name!r} is written by the server only; "
            "leave it out of the write",
            field=name,
        )
    return policy


def _increment(collection: Collection, name: str, stored: Any, value: dict[str, Any]) -> Any:
    amount = value.get("$inc")
    if set(value) != {"$inc"} or not _is_number(amount):
        raise _operator_error(collection, name, 'a counter takes {"$inc": <number>}')
    if not _is_number(stored):
        raise _operator_error(collection, name, f"the stored value {stored!r} is not a number")
    result = stored + amount
    if isinstance(result, float) and not math.isfinite(result):
        raise _operator_error(collection, name, "the increment overflows")
    return result


def _merge_set(collection: Collection, name: str, stored: Any, value: dict[str, Any]) -> Any:
    adds, removes = value.get("$add", []), value.get("$remove", [])
    if not set(value) <= {"$add", "$remove"} or not (
        isinstance(adds, list) and isinstance(removes, list)
    ):
        raise _operator_error(collection, name, 'a set takes {"$add": [...], "$remove": [...]}')
    if not isinstance(stored, list):
        raise _operator_error(collection, name, f"the stored value {stored!r} is not an array")
    removed = {_key(v) for v in removes}
    kept = [v for v in stored if _key(v) not in removed]
    return _unique(kept + adds)


def _unique(values: list[Any]) -> list[Any]:
    seen: set[bytes] = set()
    result = []
    for value in values:
        key = _key(value)
        if key not in seen:
            seen.add(key)
            result.append(value)
    return result


def _key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _is_operator(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and any(k in OPERATORS for k in value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _reject_operators(collection: Collection, name: str, value: dict[str, Any]) -> None:
    if _is_operator(value):
        policy = collection.policy(name).value
        raise _operator_error(
            collection,
            name,
            f"operators {sorted(OPERATORS)} need a counter "
            f"or set field; this field's policy is {policy!r}",
        )


def _operator_error(collection: Collection, name: str, why: str) -> EntityError:
    return EntityError(
        Code.INVALID_OPERATOR, f"field {name!r} of {collection.name!r}: {why}", field=name
    )


def _fill_defaults(collection: Collection, data: dict[str, Any], *, creating: bool) -> None:
    if creating:
        for name, value in collection.defaults.items():
            data.setdefault(name, value)
