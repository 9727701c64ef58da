"""Test identity provider: signing keys, JWKS documents and token minting."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

SECRET = "test-secret-0123456789-abcdefghijklmnop"  # >= 32 bytes, as the server requires
ISSUER = "https://id.example.test/realms/coedit"
AUDIENCE = "coedit"


def mint(
    sub: str | None = "alice",
    *,
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
    ttl: float = 300,
    now: float | None = None,
    **claims: Any,
) -> str:
    """A signed token; ``claims`` override the defaults (pass ``iss=None`` to drop one)."""
    issued = time.time() if now is None else now
    payload: dict[str, Any] = {
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": int(issued),
        "exp": issued + ttl,
    }
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


@dataclass
class SigningKey:
    """One asymmetric key pair of the test provider."""

    kid: str
    algorithm: str
    private: Any
    jwk: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        to_jwk = RSAAlgorithm.to_jwk if self.algorithm == "RS256" else ECAlgorithm.to_jwk
        self.jwk = {
            **to_jwk(self.private.public_key(), as_dict=True),
            "kid": self.kid,
            "use": "sig",
            "alg": self.algorithm,
        }

    def mint(self, sub: str = "alice", **kwargs: Any) -> str:
        headers = {"kid": self.kid, **kwargs.pop("headers", {})}
        return mint(sub, key=self.private, algorithm=self.algorithm, headers=headers, **kwargs)


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk for key in keys]}


def unsigned(sub: str = "alice", **claims: Any) -> str:
    """A token with ``alg: none`` (no signature)."""
    payload = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + 300, **claims}
    return jwt.encode(payload, None, algorithm="none")  # type: ignore[arg-type]
