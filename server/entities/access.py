"""Who is the user, and may they read or write a collection: the interface the entities API
asks, with the dev-mode default (everyone anonymous, everything allowed) and a static table.

``server.entities.web.auth_bridge`` adapts ``server/auth`` to this interface when it is enabled.
Pure: takes request headers, not requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from server.entities.errors import Code, EntityError


class Access(Protocol):
    """Authentication and collection-level authorization for the entities API."""

    async def identify(self, headers: Mapping[str, str]) -> str | None:
        """The user making a request (None: anonymous); ``unauthorized`` if credentials fail."""

    async def identify_token(self, token: object) -> str | None:
        """The user of a bearer token sent outside HTTP headers (WebSocket ``hello``)."""

    async def may_read(self, user: str | None, collection: str) -> bool:
        """True if ``user`` may read ``collection``."""

    async def may_write(self, user: str | None, collection: str) -> bool:
        """True if ``user`` may write ``collection``."""


class OpenAccess:
    """Dev mode: no credentials, every request anonymous, every collection readable and
    writable."""

    async def identify(self, headers: Mapping[str, str]) -> str | None:
        """Anonymous."""
        return None

    async def identify_token(self, token: object) -> str | None:
        """Anonymous."""
        return None

    async def may_read(self, user: str | None, collection: str) -> bool:
        """Always."""
        return True

    async def may_write(self, user: str | None, collection: str) -> bool:
        """Always."""
        return True


@dataclass
class StaticAccess:
    """A fixed table: bearer token to user, and per collection the users who may read and
    write (``"*"`` means any user). Mutable, so access can be granted and revoked at run time;
    for tests and small deployments."""

    tokens: dict[str, str] = field(default_factory=dict)
    readers: dict[str, set[str]] = field(default_factory=dict)
    writers: dict[str, set[str]] = field(default_factory=dict)
    allow_anonymous: bool = False

    async def identify(self, headers: Mapping[str, str]) -> str | None:
        """The user of ``Authorization: Bearer <token>``."""
        value = headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        if not value:
            self._require_anonymous()
            return None
        if scheme.lower() != "bearer":
            raise EntityError(Code.UNAUTHORIZED, "use 'Authorization: Bearer <token>'")
        return await self.identify_token(token.strip())

    async def identify_token(self, token: object) -> str | None:
        """The user of a token."""
        if token is None:
            self._require_anonymous()
            return None
        user = self.tokens.get(token) if isinstance(token, str) else None
        if user is None:
            raise EntityError(Code.UNAUTHORIZED, "unknown or expired token")
        return user

    async def may_read(self, user: str | None, collection: str) -> bool:
        """Listed as a reader or a writer."""
        return self._listed(self.readers, user, collection) or self._listed(
            self.writers, user, collection
        )

    async def may_write(self, user: str | None, collection: str) -> bool:
        """Listed as a writer."""
        return self._listed(self.writers, user, collection)

    def _require_anonymous(self) -> None:
        if not self.allow_anonymous:
            raise EntityError(Code.UNAUTHORIZED, "this server requires a bearer token")

    @staticmethod
    def _listed(table: dict[str, set[str]], user: str | None, collection: str) -> bool:
        allowed = table.get(collection, set())
        return "*" in allowed or (user is not None and user in allowed)
