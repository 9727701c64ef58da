"""Who is the user, and may they read or write a collection: the interface the entities API
asks, with the dev-mode default (everyone anonymous, everything allowed) and a static table.

``server.entities.web.auth_bridge`` adapts ``server/auth`` to this interface when it is enabled.
Pure: takes request headers, not requests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from server.entities.errors import Code, EntityError

Revoked = Callable[[], None]
Unwatch = Callable[[], None]


class Access(Protocol):
    """Authentication and collection-level authorization for the entities API."""

    async def identify(self, headers: Mapping[str, str]) -> str | None:
        """The user making a request (None: anonymous); ``unauthorized`` if credentials fail."""

    async def may_read(self, user: str | None, collection: str) -> bool:
        """True if ``user`` may read ``collection``."""

    async def may_write(self, user: str | None, collection: str) -> bool:
        """True if ``user`` may write ``collection``."""

    def watch_read(self, user: str | None, collection: str, revoked: Revoked) -> Unwatch:
        """Call ``revoked()`` as soon as a change of ``collection``'s access leaves ``user``
        unable to read it (again on later such changes); returns the function that stops
        watching. Synchronous, so that change hints end before anything else is committed."""


class OpenAccess:
    """Dev mode: no credentials, every request anonymous, every collection readable and
    writable."""

    async def identify(self, headers: Mapping[str, str]) -> str | None:
        """Anonymous."""
        return None

    async def may_read(self, user: str | None, collection: str) -> bool:
        """Always."""
        return True

    async def may_write(self, user: str | None, collection: str) -> bool:
        """Always."""
        return True

    def watch_read(self, user: str | None, collection: str, revoked: Revoked) -> Unwatch:
        """Nothing to watch: access never changes."""
        return _nothing


@dataclass
class StaticAccess:
    """A fixed table: bearer token to user, and per collection the users who may read and
    write (``"*"`` means any user). Mutable, so access can be granted and revoked at run time
    (call ``recheck`` after a revocation); for tests and small deployments."""

    tokens: dict[str, str] = field(default_factory=dict)
    readers: dict[str, set[str]] = field(default_factory=dict)
    writers: dict[str, set[str]] = field(default_factory=dict)
    allow_anonymous: bool = False
    _watches: set[_ReadWatch] = field(default_factory=set, init=False, repr=False)

    async def identify(self, headers: Mapping[str, str]) -> str | None:
        """The user of ``Authorization: Bearer <token>``."""
        value = headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        if not value:
            self._require_anonymous()
            return None
        if scheme.lower() != "bearer":
            raise EntityError(Code.UNAUTHORIZED, "use 'Authorization: Bearer <token>'")
        user = self.tokens.get(token.strip())
        if user is None:
            raise EntityError(Code.UNAUTHORIZED, "unknown or expired token")
        return user

    async def may_read(self, user: str | None, collection: str) -> bool:
        """Listed as a reader or a writer."""
        return self._may_read(user, collection)

    async def may_write(self, user: str | None, collection: str) -> bool:
        """Listed as a writer."""
        return self._listed(self.writers, user, collection)

    def watch_read(self, user: str | None, collection: str, revoked: Revoked) -> Unwatch:
        """Watched until the returned function is called; ``recheck`` decides."""
        watch = _ReadWatch(user, collection, revoked)
        self._watches.add(watch)
        return lambda: self._watches.discard(watch)

    def recheck(self) -> None:
        """Apply edits of the tables to the watchers: those who can no longer read are told.

        The tables are plain dicts, so nothing notices an edit by itself."""
        for watch in list(self._watches):
            if not self._may_read(watch.user, watch.collection):
                watch.revoked()

    def _may_read(self, user: str | None, collection: str) -> bool:
        return self._listed(self.readers, user, collection) or self._listed(
            self.writers, user, collection
        )

    def _require_anonymous(self) -> None:
        if not self.allow_anonymous:
            raise EntityError(Code.UNAUTHORIZED, "this server requires a bearer token")

    @staticmethod
    def _listed(table: dict[str, set[str]], user: str | None, collection: str) -> bool:
        allowed = table.get(collection, set())
        return "*" in allowed or (user is not None and user in allowed)


def _nothing() -> None:
    pass


@dataclass(eq=False)
class _ReadWatch:
    user: str | None
    collection: str
    revoked: Revoked
