"""Bearer token verification: every way a token can be wrong is refused with its code."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import serialization

from server.auth.jwks import jwks_file
from server.auth.settings import AuthSettings
from server.auth.tokens import TokenVerifier
from server.protocol.errors import ErrorCode, ProtocolError
from tests.server.auth.tokens import (
    AUDIENCE,
    ISSUER,
    SECRET,
    SigningKey,
    ec_key,
    jwks,
    mint,
    rsa_key,
    unsigned,
)

NOW = 1_800_000_000.0
SETTINGS = AuthSettings(jwt_secret=SECRET, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=30)


def verifier(settings: AuthSettings = SETTINGS, keys=None) -> TokenVerifier:
    return TokenVerifier(settings, keys, clock=lambda: NOW)


async def refused(check: TokenVerifier, token: object, code: ErrorCode, match: str) -> None:
    with pytest.raises(ProtocolError, match=match) as caught:
        await check.verify(token)
    assert caught.value.code is code


async def test_a_valid_token_names_its_subject_groups_and_expiry() -> None:
    token = mint("alice", now=NOW, ttl=60, groups=["staff", "ops", 7])
    identity = await verifier().verify(token)
    assert identity.user == "alice"
    assert identity.groups == {"staff", "ops"}
    assert identity.expires_at == NOW + 60


async def test_a_forged_signature_is_refused() -> None:
    forged = mint("alice", now=NOW, key="another-secret-of-at-least-32-bytes!!")
    await refused(verifier(), forged, ErrorCode.UNAUTHORIZED, "signature is invalid")


async def test_a_tampered_payload_is_refused() -> None:
    header, payload, signature = mint("bob", now=NOW).split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "root"
    evil = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    await refused(verifier(), f"{header}.{evil}.{signature}", ErrorCode.UNAUTHORIZED, "signature")


async def test_alg_none_is_refused() -> None:
    await refused(verifier(), unsigned(exp=NOW + 60), ErrorCode.UNAUTHORIZED, "'none'")


@pytest.mark.parametrize("token", [None, "", 17, "not.a.jwt", "x" * 20_000])
async def test_missing_or_malformed_tokens_are_refused(token: object) -> None:
    await refused(verifier(), token, ErrorCode.UNAUTHORIZED, "token")


async def test_expired_tokens_are_refused_after_the_leeway() -> None:
    await refused(
        verifier(), mint(now=NOW - 400, ttl=300), ErrorCode.TOKEN_EXPIRED, "expired 100 s ago"
    )
    within_leeway = mint(now=NOW - 310, ttl=300)  # expired 10 s ago; leeway is 30
    assert (await verifier().verify(within_leeway)).user == "alice"


async def test_not_yet_valid_tokens_are_refused() -> None:
    early = mint(now=NOW, nbf=NOW + 120)
    await refused(verifier(), early, ErrorCode.UNAUTHORIZED, "not valid for another 120 s")
    assert (await verifier().verify(mint(now=NOW, nbf=NOW + 20))).user == "alice"  # leeway


@pytest.mark.parametrize(
    ("claims", "match"),
    [
        ({"aud": "another-service"}, "not meant for this server"),
        ({"aud": None}, "'aud'"),
        ({"iss": "https://evil.example.test/"}, "not issued by"),
        ({"iss": None}, "'iss'"),
        ({"exp": None}, "'exp'"),
        ({"exp": "tomorrow"}, "'exp'"),
    ],
)
async def test_wrong_claims_are_refused(claims: dict[str, Any], match: str) -> None:
    await refused(verifier(), mint(now=NOW, **claims), ErrorCode.UNAUTHORIZED, match)


async def test_a_token_without_subject_is_refused() -> None:
    await refused(verifier(), mint(None, now=NOW), ErrorCode.UNAUTHORIZED, "'sub'")
    await refused(verifier(), mint("", now=NOW), ErrorCode.UNAUTHORIZED, "subject")


async def test_a_short_secret_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AuthSettings(jwt_secret="short").check()


async def test_groups_from_a_nested_claim_or_a_string() -> None:
    settings = AuthSettings(jwt_secret=SECRET, groups_claim="realm_access.roles")
    token = mint(now=NOW, realm_access={"roles": ["writers"]})
    assert (await verifier(settings).verify(token)).groups == {"writers"}
    namespaced = AuthSettings(jwt_secret=SECRET, groups_claim="https://coedit.example.com/groups")
    claims: dict[str, Any] = {"https://coedit.example.com/groups": ["editors"]}
    token = mint(now=NOW, **claims)
    assert (await verifier(namespaced).verify(token)).groups == {"editors"}
    spaced = AuthSettings(jwt_secret=SECRET, groups_claim="scope")
    assert (await verifier(spaced).verify(mint(now=NOW, scope="a b"))).groups == {"a", "b"}


# -- asymmetric keys from a JWKS file ---------------------------------------------------------


def write_jwks(path: Path, *keys: SigningKey) -> None:
    path.write_bytes(orjson.dumps(jwks(*keys)))


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider(tmp_path: Path):
    """An RSA and an EC key in a JWKS file, and a verifier over it (no shared secret)."""
    rsa, ec = rsa_key("rsa-1"), ec_key("ec-1")
    path = tmp_path / "jwks.json"
    write_jwks(path, rsa, ec)
    settings = AuthSettings(jwks_file=path, issuer=ISSUER, audience=AUDIENCE)
    clock = Monotonic()
    keys = jwks_file(path, settings)
    keys._clock = clock  # the refresh interval runs on this clock
    return rsa, ec, path, verifier(settings, keys), clock


async def test_rs256_and_es256_tokens_verify_against_the_jwks(provider) -> None:
    rsa, ec, _, check, _ = provider
    assert (await check.verify(rsa.mint("alice", now=NOW))).user == "alice"
    assert (await check.verify(ec.mint("bob", now=NOW))).user == "bob"


async def test_a_key_of_another_issuer_is_refused(provider) -> None:
    _, _, _, check, _ = provider
    stranger = rsa_key("other-idp-key")
    await refused(check, stranger.mint(now=NOW), ErrorCode.UNAUTHORIZED, "another issuer")
    impostor = rsa_key("rsa-1")  # another issuer's key that reuses our key id
    await refused(check, impostor.mint(now=NOW), ErrorCode.UNAUTHORIZED, "signature")


async def test_hs256_signed_with_the_public_key_is_refused(provider) -> None:
    """Algorithm confusion: the public key must never serve as an HMAC secret."""
    rsa, _, _, check, _ = provider
    pem = rsa.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"rsa-1"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(orjson.dumps({"sub": "root", "exp": NOW + 60})).rstrip(b"=")
    signing_input = header + b"." + body
    mac = hmac.new(pem, signing_input, hashlib.sha256).digest()
    token = (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()
    await refused(check, token, ErrorCode.UNAUTHORIZED, "'HS256' are not accepted")


async def test_a_token_claiming_another_algorithm_than_its_key_is_refused(provider) -> None:
    _, ec, _, check, _ = provider
    mislabelled = ec.mint(now=NOW, headers={"kid": "rsa-1"})  # ES256 token naming the RSA key
    await refused(check, mislabelled, ErrorCode.UNAUTHORIZED, "signs with RS256")


async def test_rotated_keys_are_picked_up_on_an_unknown_kid_at_most_once_per_interval(
    provider,
) -> None:
    rsa, _, path, check, clock = provider
    await check.verify(rsa.mint(now=NOW))
    rotated = rsa_key("rsa-2")
    write_jwks(path, rotated)
    clock.now = 30.0  # within the 60 s refresh interval of the first load: no re-read
    await refused(check, rotated.mint(now=NOW), ErrorCode.UNAUTHORIZED, "another issuer")
    clock.now = 61.0
    assert (await check.verify(rotated.mint(now=NOW))).user == "alice"
    await refused(check, rsa.mint(now=NOW), ErrorCode.UNAUTHORIZED, "retired")


async def test_a_single_key_serves_tokens_without_kid(tmp_path: Path) -> None:
    key = rsa_key("only")
    path = tmp_path / "jwks.json"
    write_jwks(path, key)
    settings = AuthSettings(jwks_file=path)
    check = verifier(settings, jwks_file(path, settings))
    token = mint(key=key.private, algorithm="RS256", now=NOW)  # no kid header
    assert (await check.verify(token)).user == "alice"


async def test_an_unreadable_jwks_is_unavailable_not_unauthorized(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    settings = AuthSettings(jwks_file=path)
    check = verifier(settings, jwks_file(path, settings))
    await refused(check, rsa_key("k").mint(now=NOW), ErrorCode.UNAVAILABLE, "unavailable")
