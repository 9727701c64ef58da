"""Adapts coedit's access control (``server/auth``) to the entities API's ``Access``.

Bearer tokens are verified by ``server.auth``; a collection's access list (viewer may read,
editor and owner may write) decides collection access, and a refused write is audited there.
Read access is watched through the authorizer's list listeners, which hear this process's
changes at once and other processes' at the periodic re-read of watched lists.
"""

from __future__ import annotations

from collections.abc import Mapping

from server.auth.access import Access as AuthAccess
from server.auth.acl import AccessList, Action, Resource
from server.auth.identity import Identity
from server.entities.access import Revoked, Unwatch
from server.entities.errors import Code, EntityError
from server.protocol.errors import ErrorCode, ProtocolError


class ServerAuthAccess:
    """``Access`` over ``server.auth.access.Access`` (JWT bearer tokens, access lists)."""

    def __init__(self, auth: AuthAccess) -> None:
        self._auth = auth

    async def identify(self, headers: Mapping[str, str]) -> str | None:
        """The subject of ``Authorization: Bearer``; anonymous in dev mode."""
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        bearer = token.strip() or None if scheme.lower() == "bearer" else None
        try:
            identity = await self._auth.identify(bearer, remote=None, via="rest")
        except ProtocolError as exc:
            raise _mapped(exc) from exc
        return identity.user

    async def may_read(self, user: str | None, collection: str) -> bool:
        """A viewer, editor or owner of the collection (or an admin)."""
        role = await self._auth.authorizer.role(
            self._identity(user), Resource.collection(collection)
        )
        return role is not None and role.allows(Action.READ)

    async def may_write(self, user: str | None, collection: str) -> bool:
        """An editor or owner of the collection (or an admin); a refusal is audited."""
        try:
            await self._auth.authorize(
                self._identity(user),
                Resource.collection(collection),
                Action.WRITE,
                remote=None,
                via="rest",
            )
        except ProtocolError as exc:
            if exc.code is ErrorCode.FORBIDDEN:
                return False
            raise _mapped(exc) from exc
        return True

    def watch_read(self, user: str | None, collection: str, revoked: Revoked) -> Unwatch:
        """Watch the collection's list; decide under it with the identity known now (its
        groups), not the one remembered later, which may have been forgotten meanwhile."""
        authorizer = self._auth.authorizer
        identity = self._identity(user)

        def changed(resource: Resource, acl: AccessList) -> None:
            role = authorizer.role_in(acl, identity)
            if role is None or not role.allows(Action.READ):
                revoked()

        resource = Resource.collection(collection)
        authorizer.watch(resource, changed)
        return lambda: authorizer.unwatch(resource, changed)

    def _identity(self, user: str | None) -> Identity:
        """The user's groups: those of the last token the user proved to this process, over
        REST or WebSocket (the interface passes user names, not tokens)."""
        return self._auth.identity_of(user)


def _mapped(error: ProtocolError) -> EntityError:
    if error.code in (ErrorCode.UNAUTHORIZED, ErrorCode.TOKEN_EXPIRED):
        return EntityError(Code.UNAUTHORIZED, error.message)
    return EntityError(Code.UNAVAILABLE, error.message)
