"""Authentication, authorisation and abuse-limit settings. Plain data; no I/O.

With no key source configured (no JWT secret, JWKS file or JWKS URL) the server runs in *dev
mode*: every client is an anonymous owner of everything, and only a loopback address may be
served unless the operator insists (``insecure``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key must be at least as long as the hash


class DefaultPolicy(StrEnum):
    """The access list a new document or collection starts with."""

    CREATOR = "creator"  # the creator is owner; nobody else has a role
    OPEN = "open"  # the creator is owner; every authenticated user is editor


@dataclass(frozen=True, slots=True)
class AbuseLimits:
    """Rates and counts one connection or user may reach; 0 switches a limit off. They apply
    when authentication is on: dev mode has no users, only this machine's own clients.

    Token buckets: ``*_per_second`` is the sustained rate, ``*_burst`` how many may come at once.
    """

    messages_per_second: float = 200.0  # per WebSocket connection
    message_burst: int = 1000
    ops_per_second: float = 100.0  # per user, over WebSocket and REST together
    op_burst: int = 500
    max_user_open_docs: int = 500  # per user, over all of the user's connections


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """How coedit verifies bearer tokens and what it lets their subjects do."""

    jwt_secret: str | None = None  # HS256 shared secret
    jwks_file: Path | None = None  # RS256/ES256 keys from a JWKS document on disk
    jwks_url: str | None = None  # ... or from the identity provider's JWKS endpoint
    issuer: str | None = None  # required `iss` when set
    audience: str | None = None  # required `aud` when set
    groups_claim: str = "groups"  # claim (dotted path, e.g. realm_access.roles) naming groups
    default_policy: DefaultPolicy = DefaultPolicy.CREATOR
    admin_users: frozenset[str] = frozenset()  # subjects that own every object
    leeway_seconds: float = 30.0  # clock skew tolerated on `exp` and `nbf`
    jwks_refresh_seconds: float = 60.0  # at most one refresh per this on an unknown `kid`
    jwks_max_age_seconds: float = 3600.0  # refetch a JWKS URL this long after the last fetch
    acl_recheck_seconds: float = 10.0  # an open socket re-reads its role this often
    audit_keep_days: float = 0.0  # drop audit entries older than this; 0 keeps them all
    insecure: bool = False  # allow dev mode on a non-loopback address
    limits: AbuseLimits = AbuseLimits()

    @property
    def enabled(self) -> bool:
        """True when tokens are required (a key source is configured); False is dev mode."""
        return bool(self.jwt_secret or self.jwks_file or self.jwks_url)

    def check(self) -> None:
        """Raise ``ValueError`` with an operator-facing message if the settings are unusable."""
        if self.audit_keep_days < 0:
            raise ValueError(f"--audit-keep-days must be 0 or more, got {self.audit_keep_days}")
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes long; generate one "
                "with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.jwks_file is not None and self.jwks_url is not None:
            raise ValueError("give either a JWKS file or a JWKS URL, not both")
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError(f"the JWKS URL must be http(s)://..., got {self.jwks_url!r}")
        if not self.groups_claim or any(not part for part in self.groups_claim.split(".")):
            raise ValueError(f"invalid groups claim {self.groups_claim!r}")
