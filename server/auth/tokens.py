"""Bearer token verification (PyJWT): signature, algorithm, expiry, issuer, audience, subject.

HS256 tokens are checked against the shared secret; RS256 and ES256 tokens against the key their
``kid`` names in the JWKS. The algorithm a token claims must match its key's kind, so a public
key can never be used as an HMAC secret, and ``alg: none`` is never accepted. Expiry and
not-before are checked against an injectable clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt

from server.auth.identity import Identity
from server.auth.jwks import KeySource, KeySourceError
from server.auth.settings import AuthSettings
from server.protocol.errors import ErrorCode, ProtocolError

ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})
MAX_TOKEN_BYTES = 16 * 1024
MAX_SUBJECT = 200


def unauthorized(message: str) -> ProtocolError:
    """The error for a missing or invalid token."""
    return ProtocolError(ErrorCode.UNAUTHORIZED, message)


class TokenVerifier:
    """Turns a bearer token into an ``Identity``, or raises ``unauthorized``/``token_expired``."""

    def __init__(
        self,
        settings: AuthSettings,
        keys: KeySource | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._secret = settings.jwt_secret.encode() if settings.jwt_secret else None
        self._keys = keys
        self._clock = clock
        accepted = set(ASYMMETRIC_ALGORITHMS) if keys is not None else set()
        if self._secret is not None:
            accepted.add("HS256")
        self.algorithms = frozenset(accepted)

    async def verify(self, token: Any) -> Identity:
        """The identity a valid token proves."""
        if not isinstance(token, str) or not token:
            raise unauthorized(
                "a bearer token is required: send it as hello.token over WebSocket or in an "
                "'Authorization: Bearer' header over REST"
            )
        if len(token) > MAX_TOKEN_BYTES:
            raise unauthorized(f"the token is longer than {MAX_TOKEN_BYTES} bytes")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise unauthorized(f"the token is not a well-formed JWT: {exc}") from exc
        algorithm = header.get("alg")
        key = await self._key(algorithm, header.get("kid"))
        claims = self._decode(token, key, str(algorithm))
        self._check_times(claims)
        return self._identity(claims)

    async def _key(self, algorithm: Any, kid: Any) -> Any:
        if algorithm not in self.algorithms:
            raise unauthorized(
                f"tokens signed with {algorithm!r} are not accepted; this server accepts "
                f"{', '.join(sorted(self.algorithms))}"
            )
        if algorithm == "HS256":
            return self._secret
        if kid is not None and not isinstance(kid, str):
            raise unauthorized("the token's 'kid' header must be a string")
        assert self._keys is not None  # an asymmetric algorithm is accepted only with keys
        try:
            jwk = await self._keys.find(kid)
        except KeySourceError as exc:
            raise ProtocolError(
                ErrorCode.UNAVAILABLE,
                f"the identity provider's signing keys are unavailable ({exc}); retry later",
            ) from exc
        if jwk is None:
            raise unauthorized(
                f"no signing key {kid!r} is known here: the token comes from another issuer, "
                "or its key was retired"
            )
        if jwk.algorithm_name != algorithm:
            raise unauthorized(f"key {kid!r} signs with {jwk.algorithm_name}, not {algorithm}")
        return jwk.key

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        settings = self._settings
        required = ["exp", "sub"]
        required += ["iss"] if settings.issuer else []
        required += ["aud"] if settings.audience else []
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                options={
                    "require": required,
                    "verify_aud": settings.audience is not None,
                    "verify_exp": False,  # checked in _check_times against our clock
                    "verify_nbf": False,
                    "verify_iat": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.InvalidSignatureError as exc:
            raise unauthorized("the token's signature is invalid") from exc
        except jwt.InvalidIssuerError as exc:
            raise unauthorized(f"the token was not issued by {settings.issuer!r}") from exc
        except jwt.InvalidAudienceError as exc:
            raise unauthorized(
                f"the token is not meant for this server (audience {settings.audience!r})"
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise unauthorized(f"the token has no {exc.claim!r} claim") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized(f"the token is invalid: {exc}") from exc

    def _check_times(self, claims: dict[str, Any]) -> None:
        now, leeway = self._clock(), self._settings.leeway_seconds
        exp = _number(claims, "exp")
        nbf = _number(claims, "nbf") if claims.get("nbf") is not None else None
        if now > exp + leeway:
            raise ProtocolError(
                ErrorCode.TOKEN_EXPIRED,
                f"the token expired {now - exp:.0f} s ago; get a new one from the identity "
                "provider",
            )
        if nbf is not None and now + leeway < nbf:
            raise unauthorized(f"the token is not valid for another {nbf - now:.0f} s")

    def _identity(self, claims: dict[str, Any]) -> Identity:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT:
            raise unauthorized(f"the token's subject must be a string of 1-{MAX_SUBJECT} chars")
        groups = _claim_path(claims, self._settings.groups_claim)
        return Identity(subject, _groups(groups), float(claims["exp"]))

    @property
    def expiry_leeway(self) -> float:
        """Seconds a token stays usable after its ``exp``."""
        return self._settings.leeway_seconds


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise unauthorized(f"the token's {name!r} claim must be a number of seconds")
    return float(value)


def _claim_path(claims: dict[str, Any], path: str) -> Any:
    """The claim named ``path`` (``https://example.com/groups``: a namespaced claim is taken
    whole), else the one at the dotted path (``realm_access.roles``), or None."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _groups(value: Any) -> frozenset[str]:
    """A list of names, or one space-separated string (as OAuth's ``scope``)."""
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str) and v)
    return frozenset()
