"""The command line of access control: ``coedit serve``'s authentication flags, the secure-default
check of the listening address, and ``coedit token``, which mints dev tokens."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import time
from pathlib import Path
from typing import Any

import jwt

from server.auth.settings import AbuseLimits, AuthSettings, DefaultPolicy
from server.config import Settings, env

log = logging.getLogger(__name__)


def _names(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def add_auth_arguments(serve: argparse.ArgumentParser) -> None:
    """Add the authentication, access control and abuse limit flags to ``coedit serve``."""
    group = serve.add_argument_group(
        "authentication and access control",
        "Without --jwt-secret, --jwks-file or --jwks-url the server runs in dev mode: no tokens, "
        "every client an anonymous owner, and only a loopback address (see docs/auth.md).",
    )
    add = group.add_argument
    default, limits = AuthSettings(), AbuseLimits()
    add(
        "--jwt-secret",
        default=None,  # read from the environment later: --help must not print it
        help="HS256 shared secret, 32+ bytes; prefer the variable, flags show in `ps` "
        "(COEDIT_JWT_SECRET)",
    )
    add(
        "--jwks-file",
        type=Path,
        default=env("JWKS_FILE") or None,
        help="JWKS document with the RS256/ES256 keys that sign tokens (COEDIT_JWKS_FILE)",
    )
    add(
        "--jwks-url",
        default=env("JWKS_URL") or None,
        help="the identity provider's jwks_uri, e.g. "
        "https://id.example.com/realms/acme/protocol/openid-connect/certs (COEDIT_JWKS_URL)",
    )
    add("--issuer", default=env("ISSUER") or None, help="required `iss` claim (COEDIT_ISSUER)")
    add(
        "--audience",
        default=env("AUDIENCE") or None,
        help="required `aud` claim: the API identifier of coedit at the provider (COEDIT_AUDIENCE)",
    )
    add(
        "--groups-claim",
        default=env("GROUPS_CLAIM", default.groups_claim),
        help="claim holding the user's groups, a dotted path such as realm_access.roles "
        "(COEDIT_GROUPS_CLAIM)",
    )
    add(
        "--default-policy",
        choices=[policy.value for policy in DefaultPolicy],
        default=env("DEFAULT_POLICY", default.default_policy.value),
        help="access list of a new document or collection: creator = only its creator (owner); "
        "open = its creator owns it and every signed-in user edits it (COEDIT_DEFAULT_POLICY)",
    )
    add(
        "--admin-users",
        type=_names,
        metavar="USER,...",
        default=env("ADMIN_USERS"),
        help="comma-separated user ids (token subjects) that own every object and read the "
        "whole audit log (COEDIT_ADMIN_USERS)",
    )
    add(
        "--token-leeway",
        type=float,
        default=float(env("TOKEN_LEEWAY", str(default.leeway_seconds))),
        help="seconds of clock skew tolerated on exp and nbf (COEDIT_TOKEN_LEEWAY)",
    )
    add(
        "--audit-keep-days",
        type=float,
        default=float(env("AUDIT_KEEP_DAYS", str(default.audit_keep_days))),
        help="delete audit entries older than this many days, checked hourly; 0 keeps every "
        "entry (COEDIT_AUDIT_KEEP_DAYS)",
    )
    add(
        "--insecure",
        action="store_true",
        default=env("INSECURE") == "1",
        help="allow dev mode (no authentication) on a non-loopback address (COEDIT_INSECURE=1)",
    )
    _add_limit_arguments(add, limits)


def _add_limit_arguments(add: Any, limits: AbuseLimits) -> None:
    add(
        "--max-messages-per-second",
        type=float,
        default=float(env("MAX_MESSAGES_PER_SECOND", str(limits.messages_per_second))),
        help="sustained messages per connection, bursts of 5x allowed; 0 = unlimited "
        "(COEDIT_MAX_MESSAGES_PER_SECOND)",
    )
    add(
        "--max-ops-per-second",
        type=float,
        default=float(env("MAX_OPS_PER_SECOND", str(limits.ops_per_second))),
        help="sustained ops per user over all connections and REST, bursts of 5x allowed; "
        "0 = unlimited (COEDIT_MAX_OPS_PER_SECOND)",
    )
    add(
        "--max-user-open-docs",
        type=int,
        default=int(env("MAX_USER_OPEN_DOCS", str(limits.max_user_open_docs))),
        help="documents one user may have open over all connections; 0 = unlimited "
        "(COEDIT_MAX_USER_OPEN_DOCS)",
    )


def auth_settings_from_args(args: argparse.Namespace) -> AuthSettings:
    """``AuthSettings`` from parsed ``serve`` arguments."""
    messages, ops = args.max_messages_per_second, args.max_ops_per_second
    return AuthSettings(
        jwt_secret=args.jwt_secret or env("JWT_SECRET") or None,
        jwks_file=args.jwks_file,
        jwks_url=args.jwks_url,
        issuer=args.issuer,
        audience=args.audience,
        groups_claim=args.groups_claim,
        default_policy=DefaultPolicy(args.default_policy),
        admin_users=args.admin_users,
        leeway_seconds=args.token_leeway,
        audit_keep_days=args.audit_keep_days,
        insecure=args.insecure,
        limits=AbuseLimits(
            messages_per_second=messages,
            message_burst=max(1, int(messages * 5)),
            ops_per_second=ops,
            op_burst=max(1, int(ops * 5)),
            max_user_open_docs=args.max_user_open_docs,
        ),
    )


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another host name: it may resolve to anything


def check_serving_address(settings: Settings) -> None:
    """Refuse unusable auth settings, and dev mode beyond loopback unless ``insecure``."""
    auth = settings.auth
    auth.check()
    if auth.enabled or is_loopback(settings.host):
        return
    if not auth.insecure:
        raise ValueError(
            f"refusing to serve {settings.host} without authentication: configure "
            "--jwt-secret, --jwks-file or --jwks-url (docs/auth.md), listen on 127.0.0.1, or "
            "pass --insecure to let anyone who reaches this address read and write everything"
        )
    log.warning("--insecure: serving %s with no authentication at all", settings.host)


def add_token_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``coedit token``: print an HS256 token for a dev or test setup."""
    token = commands.add_parser(
        "token",
        help="mint a dev token signed with the shared secret",
        description="Print a bearer token signed (HS256) with the server's shared secret, for "
        "development and tests. In production an identity provider issues tokens.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = token.add_argument
    add("--sub", required=True, help="the user id (subject)")
    add("--secret", default=None, help="shared secret (COEDIT_JWT_SECRET)")
    add("--aud", default=env("AUDIENCE") or None, help="audience (COEDIT_AUDIENCE)")
    add("--iss", default=env("ISSUER") or None, help="issuer (COEDIT_ISSUER)")
    add("--ttl", type=float, default=3600.0, help="seconds until the token expires")
    add("--groups", type=_names, metavar="GROUP,...", default="", help="comma-separated groups")
    add(
        "--groups-claim",
        default=env("GROUPS_CLAIM", "groups"),
        help="claim to put the groups in (COEDIT_GROUPS_CLAIM)",
    )
    token.set_defaults(run=_token)


def mint_dev_token(
    secret: str,
    sub: str,
    *,
    audience: str | None = None,
    issuer: str | None = None,
    ttl: float = 3600.0,
    groups: frozenset[str] = frozenset(),
    groups_claim: str = "groups",
    now: float | None = None,
) -> str:
    """An HS256 token such as an identity provider would issue."""
    AuthSettings(jwt_secret=secret).check()
    issued = time.time() if now is None else now
    claims: dict[str, Any] = {"sub": sub, "iat": int(issued), "exp": int(issued + ttl)}
    if audience:
        claims["aud"] = audience
    if issuer:
        claims["iss"] = issuer
    if groups:
        *parents, leaf = groups_claim.split(".")  # realm_access.roles nests, as Keycloak does
        target = claims
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = sorted(groups)
    return jwt.encode(claims, secret, algorithm="HS256")


def _token(args: argparse.Namespace) -> int:
    secret = args.secret or env("JWT_SECRET")
    if not secret:
        raise ValueError("no secret: pass --secret or set COEDIT_JWT_SECRET")
    print(
        mint_dev_token(
            secret,
            args.sub,
            audience=args.aud,
            issuer=args.iss,
            ttl=args.ttl,
            groups=args.groups,
            groups_claim=args.groups_claim,
        )
    )
    return 0
