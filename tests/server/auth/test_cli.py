"""``coedit token``, the authentication flags of ``coedit serve`` and the secure default."""

from __future__ import annotations

import pytest

from server.auth.cli import check_serving_address, is_loopback, mint_dev_token
from server.auth.settings import AuthSettings, DefaultPolicy
from server.auth.tokens import TokenVerifier
from server.cli import build_parser, main, settings_from_args
from server.config import Settings
from tests.server.auth.tokens import SECRET


async def test_coedit_token_mints_a_token_the_server_accepts(capsys) -> None:
    argv = ["token", "--secret", SECRET, "--sub", "alice", "--aud", "coedit", "--iss", "dev"]
    assert main([*argv, "--groups", "staff,ops", "--ttl", "60"]) == 0
    token = capsys.readouterr().out.strip()
    settings = AuthSettings(jwt_secret=SECRET, audience="coedit", issuer="dev")
    identity = await TokenVerifier(settings, None).verify(token)
    assert identity.user == "alice" and identity.groups == {"staff", "ops"}


async def test_groups_go_where_the_groups_claim_points() -> None:
    token = mint_dev_token(SECRET, "bob", groups=frozenset({"w"}), groups_claim="realm.roles")
    settings = AuthSettings(jwt_secret=SECRET, groups_claim="realm.roles")
    assert (await TokenVerifier(settings, None).verify(token)).groups == {"w"}


def test_coedit_token_reads_the_secret_from_the_environment(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COEDIT_JWT_SECRET", SECRET)
    assert main(["token", "--sub", "alice"]) == 0
    assert capsys.readouterr().out.count(".") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "--sub", "alice"], "no secret"),
        (["token", "--sub", "alice", "--secret", "short"], "at least 32 bytes"),
    ],
)
def test_coedit_token_fails_with_one_clear_line(capsys, monkeypatch, argv, message) -> None:
    monkeypatch.delenv("COEDIT_JWT_SECRET", raising=False)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("coedit: error:") and message in err and err.count("\n") == 1


def test_serve_refuses_a_public_address_without_authentication(capsys, tmp_path) -> None:
    argv = ["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path)]
    assert main(argv) == 1
    assert "refusing to serve 0.0.0.0 without authentication" in capsys.readouterr().err
    assert not (tmp_path / "auth.db").exists()  # refused before anything started


def test_insecure_or_authentication_or_loopback_may_serve() -> None:
    public = Settings(host="0.0.0.0")
    check_serving_address(Settings(host="127.0.0.1"))
    check_serving_address(Settings(host="0.0.0.0", auth=AuthSettings(insecure=True)))
    check_serving_address(Settings(host="0.0.0.0", auth=AuthSettings(jwt_secret=SECRET)))
    with pytest.raises(ValueError, match="--insecure"):
        check_serving_address(public)
    with pytest.raises(ValueError, match="32 bytes"):
        check_serving_address(Settings(auth=AuthSettings(jwt_secret="x")))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("coedit.example.com", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_flags_and_variables_fill_the_auth_settings(monkeypatch) -> None:
    monkeypatch.setenv("COEDIT_JWT_SECRET", SECRET)
    monkeypatch.setenv("COEDIT_ADMIN_USERS", "root, ops")
    monkeypatch.setenv("COEDIT_AUDIENCE", "coedit-api")
    args = build_parser().parse_args(
        [
            "serve",
            "--jwks-url",
            "https://id.example.com/certs",
            "--issuer",
            "https://id.example.com",
            "--groups-claim",
            "realm_access.roles",
            "--default-policy",
            "open",
            "--max-ops-per-second",
            "10",
        ]
    )
    auth = settings_from_args(args).auth
    assert auth.jwt_secret == SECRET and auth.jwks_url == "https://id.example.com/certs"
    assert auth.issuer == "https://id.example.com" and auth.audience == "coedit-api"
    assert auth.admin_users == {"root", "ops"}
    assert auth.groups_claim == "realm_access.roles"
    assert auth.default_policy is DefaultPolicy.OPEN
    assert auth.limits.ops_per_second == 10 and auth.limits.op_burst == 50
    assert auth.enabled


def test_help_never_prints_the_secret(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COEDIT_JWT_SECRET", SECRET)
    for command in ("serve", "token"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert SECRET not in capsys.readouterr().out
