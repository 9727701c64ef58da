"""Who is asking: the verified subject of a bearer token, or the anonymous dev-mode user."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller. ``user`` is the token's ``sub``; None only in dev mode (no authentication)."""

    user: str | None
    groups: frozenset[str] = frozenset()
    expires_at: float | None = None  # the token's `exp`, Unix seconds

    @property
    def authenticated(self) -> bool:
        """True for the subject of a verified token."""
        return self.user is not None


ANONYMOUS = Identity(None)
