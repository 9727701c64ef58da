"""Authorisation decisions and access list management, over the ``AuthStore``.

Refusals are uniform: a caller with no role on an object gets the same ``forbidden`` whether the
object exists or not, so access lists never reveal which ids are taken by others' objects.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from server.auth.acl import AccessList, Action, Resource, Role, initial_access_list
from server.auth.identity import Identity
from server.auth.settings import AuthSettings
from server.auth.store import AuthStore
from server.protocol.errors import ErrorCode, ProtocolError
from server.storage import StorageError

log = logging.getLogger(__name__)

AclListener = Callable[[Resource, AccessList], None]
Exists = Callable[[], Awaitable[bool]]


def no_access(resource: Resource) -> ProtocolError:
    """The one refusal for "you have no role here" and "there is no such object"."""
    return ProtocolError(
        ErrorCode.FORBIDDEN, f"you have no access to {resource}, or it does not exist"
    )


def not_allowed(resource: Resource, role: Role, action: Action) -> ProtocolError:
    """The refusal for a role too weak for the action (the caller knows the object exists)."""
    what = {Action.READ: "read it", Action.WRITE: "change it", Action.MANAGE: "manage access"}
    return ProtocolError(
        ErrorCode.FORBIDDEN,
        f"you are {role.value} of {resource}, which does not allow you to {what[action]}; "
        "ask an owner for a higher role",
    )


class Authorizer:
    """Who may do what: access lists, admins, the default policy, and change notification."""

    def __init__(self, store: AuthStore, settings: AuthSettings) -> None:
        self._store = store
        self._enabled = settings.enabled
        self._admins = settings.admin_users
        self._policy = settings.default_policy
        self._listeners: dict[Resource, set[AclListener]] = {}

    def is_admin(self, identity: Identity) -> bool:
        """Admins own every object; in dev mode everybody is one."""
        return not self._enabled or identity.user in self._admins

    def role_in(self, acl: AccessList | None, identity: Identity) -> Role | None:
        """``identity``'s role under ``acl`` (admins: owner)."""
        if self.is_admin(identity):
            return Role.OWNER
        return None if acl is None else acl.role_of(identity)

    async def role(self, identity: Identity, resource: Resource) -> Role | None:
        """``identity``'s current role on ``resource``."""
        if self.is_admin(identity):
            return Role.OWNER
        return self.role_in(await self._get(resource), identity)

    async def require(
        self,
        identity: Identity,
        resource: Resource,
        action: Action,
        *,
        create: bool = False,
        exists: Exists | None = None,
    ) -> Role:
        """The caller's role if it allows ``action``; else ``forbidden``.

        With ``create``, an object without an access list gets the default policy's list with
        the caller as owner, unless ``exists`` says the object predates access control (made in
        dev mode): such objects are left to admins, who give them a list.
        """
        if self.is_admin(identity):
            return Role.OWNER
        acl = await self._get(resource)
        if acl is None and create and not (exists is not None and await exists()):
            initial = initial_access_list(self._policy, identity)
            acl = await self._update(resource, lambda current: current or initial)
        role = self.role_in(acl, identity)
        if role is None:
            raise no_access(resource)
        if not role.allows(action):
            raise not_allowed(resource, role, action)
        return role

    async def read_acl(self, identity: Identity, resource: Resource) -> AccessList:
        """The object's list, for its owners and admins (empty if it has none yet)."""
        acl = await self._get(resource)
        self._check_manage(identity, resource, acl)
        return acl if acl is not None else AccessList()

    async def change_acl(
        self, identity: Identity, resource: Resource, change: Callable[[AccessList], AccessList]
    ) -> tuple[AccessList | None, AccessList]:
        """Apply ``change`` to the list (an empty one if there is none) as an owner or admin.

        The manage check runs under the store's lock on the list, so an owner who is being
        removed concurrently cannot slip a change in. Returns the lists before and after.
        """
        before: list[AccessList | None] = []

        def apply(current: AccessList | None) -> AccessList:
            self._check_manage(identity, resource, current)
            before.append(current)
            return change(current if current is not None else AccessList())

        after = await self._update(resource, apply)
        assert after is not None  # apply never returns None
        self._notify(resource, after)
        return before[0], after

    def watch(self, resource: Resource, listener: AclListener) -> None:
        """Call ``listener`` with the new list whenever this process changes the object's list."""
        self._listeners.setdefault(resource, set()).add(listener)

    def unwatch(self, resource: Resource, listener: AclListener) -> None:
        listeners = self._listeners.get(resource)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[resource]

    async def refresh_watched(self) -> None:
        """Re-read the lists of watched objects and notify their listeners: this applies
        changes made through other server processes sharing the store."""
        for resource in list(self._listeners):
            acl = await self._get(resource)
            if acl is not None:
                self._notify(resource, acl)

    def _check_manage(self, identity: Identity, resource: Resource, acl: AccessList | None) -> None:
        role = self.role_in(acl, identity)
        if role is None:
            raise no_access(resource)
        if not role.allows(Action.MANAGE):
            raise not_allowed(resource, role, Action.MANAGE)

    def _notify(self, resource: Resource, acl: AccessList) -> None:
        for listener in list(self._listeners.get(resource, ())):
            try:
                listener(resource, acl)
            except Exception:
                log.exception("access list listener failed for %s", resource)

    async def _get(self, resource: Resource) -> AccessList | None:
        with _storage(resource):
            return await self._store.get_acl(resource)

    async def _update(
        self, resource: Resource, change: Callable[[AccessList | None], Any]
    ) -> AccessList | None:
        with _storage(resource):
            return await self._store.update_acl(resource, change)


@contextmanager
def _storage(resource: Resource) -> Iterator[None]:
    try:
        yield
    except StorageError as exc:
        log.error("access list storage failed for %s: %s", resource, exc)
        raise ProtocolError(
            ErrorCode.UNAVAILABLE, "access control storage is unavailable; retry later"
        ) from exc
