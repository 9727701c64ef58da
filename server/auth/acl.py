"""Roles, access lists and the default policy: who may do what to one document or collection.

Pure data and rules; no storage. An access list maps users and groups to a role; a caller's role
is the highest that any entry gives it. ``owner`` > ``editor`` > ``viewer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from server.auth.identity import Identity
from server.auth.settings import DefaultPolicy
from server.protocol.errors import ErrorCode, ProtocolError
from server.protocol.fields import MAX_DOC_ID, check_id

MAX_ENTRIES = 1000  # users plus groups in one list
MAX_PRINCIPAL = 200


class Role(StrEnum):
    """What a principal may do to one object."""

    VIEWER = "viewer"  # open and read
    EDITOR = "editor"  # ... and submit ops / write records
    OWNER = "owner"  # ... and read and change the access list and the audit log

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, action: Action) -> bool:
        """True if this role may perform ``action``."""
        return self.rank >= _NEEDED[action].rank


class Action(StrEnum):
    """The kinds of access a request needs."""

    READ = "read"
    WRITE = "write"
    MANAGE = "manage"


_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}
_NEEDED = {Action.READ: Role.VIEWER, Action.WRITE: Role.EDITOR, Action.MANAGE: Role.OWNER}


class ResourceKind(StrEnum):
    """The kinds of object that carry an access list."""

    DOC = "doc"
    COLLECTION = "collection"


@dataclass(frozen=True, slots=True)
class Resource:
    """One object with an access list: a text document or an entity collection."""

    kind: ResourceKind
    id: str

    @classmethod
    def doc(cls, doc_id: str) -> Resource:
        return cls(ResourceKind.DOC, doc_id)

    @classmethod
    def collection(cls, name: str) -> Resource:
        return cls(ResourceKind.COLLECTION, name)

    def __str__(self) -> str:
        noun = "document" if self.kind is ResourceKind.DOC else "collection"
        return f"{noun} {self.id!r}"


def _frozen(entries: Mapping[str, Role]) -> Mapping[str, Role]:
    return MappingProxyType(dict(entries))


@dataclass(frozen=True, slots=True)
class AccessList:
    """Who holds which role on one object. ``authenticated`` is the role of every signed-in user.

    Invariant: at least one entry is ``owner`` (else only admins could ever manage the object).
    """

    users: Mapping[str, Role] = field(default_factory=dict)
    groups: Mapping[str, Role] = field(default_factory=dict)
    authenticated: Role | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "users", _frozen(self.users))
        object.__setattr__(self, "groups", _frozen(self.groups))

    def role_of(self, identity: Identity) -> Role | None:
        """The highest role any entry gives ``identity``, or None."""
        if identity.user is None:
            return None
        roles = [self.users.get(identity.user), self.authenticated]
        roles.extend(self.groups.get(group) for group in identity.groups)
        granted = [role for role in roles if role is not None]
        return max(granted, key=lambda role: role.rank) if granted else None

    @property
    def has_owner(self) -> bool:
        return Role.OWNER in (*self.users.values(), *self.groups.values(), self.authenticated)

    def to_json(self) -> dict[str, Any]:
        """The wire form: ``{"users": {...}, "groups": {...}, "authenticated": role | null}``."""
        return {
            "users": {user: role.value for user, role in sorted(self.users.items())},
            "groups": {group: role.value for group, role in sorted(self.groups.items())},
            "authenticated": None if self.authenticated is None else self.authenticated.value,
        }

    @classmethod
    def from_json(cls, body: Any) -> AccessList:
        """Parse and check a whole list (the body of a PUT)."""
        if not isinstance(body, dict):
            raise _invalid("the access list must be a JSON object")
        _no_unknown_keys(body)
        acl = cls(
            users=_read_roles(body.get("users", {}), "users"),
            groups=_read_roles(body.get("groups", {}), "groups"),
            authenticated=_read_role(body.get("authenticated"), "authenticated"),
        )
        return acl.checked()

    def patched(self, patch: Any) -> AccessList:
        """Apply a JSON merge patch (RFC 7396): a ``null`` role removes that entry."""
        if not isinstance(patch, dict):
            raise _invalid("the patch must be a JSON object")
        _no_unknown_keys(patch)
        users = _merge(self.users, _read_entries(patch.get("users", {}), "users"))
        groups = _merge(self.groups, _read_entries(patch.get("groups", {}), "groups"))
        authenticated = self.authenticated
        if "authenticated" in patch:
            authenticated = _read_role(patch["authenticated"], "authenticated")
        return AccessList(users, groups, authenticated).checked()

    def checked(self) -> AccessList:
        """This list, if it keeps the invariants; else ``invalid_field``."""
        if len(self.users) + len(self.groups) > MAX_ENTRIES:
            raise _invalid(f"an access list holds at most {MAX_ENTRIES} users and groups")
        if not self.has_owner:
            raise _invalid(
                "the access list must keep at least one owner, or nobody could manage it"
            )
        return self


def initial_access_list(policy: DefaultPolicy, creator: Identity) -> AccessList:
    """The list a new object gets when ``creator`` first touches it."""
    users = {creator.user: Role.OWNER} if creator.user is not None else {}
    everyone = Role.EDITOR if policy is DefaultPolicy.OPEN else None
    return AccessList(users=users, authenticated=everyone)


def _invalid(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_FIELD, message)


def _no_unknown_keys(body: dict[str, Any]) -> None:
    unknown = set(body) - {"users", "groups", "authenticated"}
    if unknown:
        raise _invalid(
            f"unknown access list fields {sorted(unknown)}; expected users, groups, authenticated"
        )


def _read_role(value: Any, name: str) -> Role | None:
    if value is None:
        return None
    try:
        return Role(value)
    except ValueError:
        raise _invalid(
            f"{name}: role must be one of owner, editor, viewer (or null), got {value!r}"
        ) from None


def _read_entries(value: Any, name: str) -> dict[str, Role | None]:
    """Entries of a patch: a null role means "remove"."""
    if not isinstance(value, dict):
        raise _invalid(f"field {name!r} must be an object mapping names to roles")
    for principal in value:
        if not 0 < len(principal) <= MAX_PRINCIPAL:
            raise _invalid(f"{name}: names must be 1-{MAX_PRINCIPAL} characters")
    return {principal: _read_role(raw, f"{name}.{principal}") for principal, raw in value.items()}


def _read_roles(value: Any, name: str) -> dict[str, Role]:
    """Entries of a whole list: every name has a role."""
    roles: dict[str, Role] = {}
    for principal, role in _read_entries(value, name).items():
        if role is None:
            raise _invalid(f"{name}.{principal}: role must be owner, editor or viewer")
        roles[principal] = role
    return roles


def _merge(current: Mapping[str, Role], patch: dict[str, Role | None]) -> dict[str, Role]:
    merged = dict(current)
    for principal, role in patch.items():
        if role is None:
            merged.pop(principal, None)
        else:
            merged[principal] = role
    return merged


def check_collection_name(name: str) -> str:
    """A collection name follows the document id rules."""
    return check_id(name, "collection", max_length=MAX_DOC_ID)
