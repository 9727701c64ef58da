"""Authentication over WebSocket: the hello token, refreshing it, and closing on expiry (4001)."""

from __future__ import annotations

import time

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.server.auth.conftest import Join
from tests.server.auth.tokens import mint, rsa_key, unsigned
from tests.server.wsclient import WsClient


async def hello(server: TestServer, http: aiohttp.ClientSession, token: object) -> WsClient:
    ws = await WsClient.connect(http, str(server.make_url("/v1/ws")))
    message = {"type": "hello", "protocol": 1, "client": "c1"}
    if token is not None:
        message["token"] = token
    await ws.send(message)
    return ws


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "unauthorized"),
        (mint("alice", key="a-forged-secret-that-is-long-enough-0123"), "unauthorized"),
        (unsigned("alice"), "unauthorized"),
        (rsa_key("another-idp").mint("alice"), "unauthorized"),
        (mint("alice", ttl=-5), "token_expired"),
        (mint("alice", nbf=time.time() + 600), "unauthorized"),
        (mint("alice", aud="billing"), "unauthorized"),
        (mint("alice", iss="https://evil.example.test/"), "unauthorized"),
    ],
    ids=["missing", "forged", "alg-none", "other-issuer", "expired", "not-yet", "aud", "iss"],
)
async def test_a_bad_hello_token_is_refused_and_the_socket_closed_with_4001(
    server: TestServer, http: aiohttp.ClientSession, token: object, code: str
) -> None:
    ws = await hello(server, http, token)
    error = await ws.expect_type("error")
    assert error["code"] == code
    assert await ws.wait_closed() == 4001
    assert not [m for m in ws.received if m["type"] == "welcome"]


async def test_the_welcome_names_the_user_and_the_expiry(server, http) -> None:
    expires = time.time() + 120
    ws = await hello(server, http, mint("alice", exp=expires))
    welcome = await ws.expect_type("welcome")
    assert welcome["user"] == "alice" and welcome["expires"] == expires
    await ws.close()


async def test_the_upgrade_requests_authorization_header_is_accepted(server, http) -> None:
    headers = {"Authorization": f"Bearer {mint('alice')}"}
    ws = await WsClient.connect(http, str(server.make_url("/v1/ws")), headers=headers)
    await ws.send({"type": "hello", "protocol": 1, "client": "c1"})
    assert (await ws.expect_type("welcome"))["user"] == "alice"
    await ws.close()


async def test_an_expiring_token_closes_the_socket_unless_refreshed(join: Join) -> None:
    lapsing = await join("alice", "c1", token=mint("alice", ttl=1.0))
    refreshed = await join("alice", "c2", token=mint("alice", ttl=1.0))
    fresh_expiry = time.time() + 600
    await refreshed.send({"type": "auth", "token": mint("alice", exp=fresh_expiry)})
    authed = await refreshed.expect_type("authed")
    assert authed == {"type": "authed", "user": "alice", "expires": fresh_expiry}

    expired = await lapsing.expect_type("error")
    assert expired["code"] == "token_expired"
    assert await lapsing.wait_closed() == 4001
    # the refreshed socket's old deadline passed too; it is still served
    await refreshed.send({"type": "ping", "id": 1})
    assert await refreshed.expect_type("pong", id=1)


async def test_a_refresh_must_be_for_the_same_user_and_valid(join: Join) -> None:
    ws = await join("alice")
    await ws.send({"type": "auth", "token": mint("mallory")})
    assert (await ws.expect_type("error"))["code"] == "forbidden"
    await ws.send({"type": "auth", "token": unsigned("alice")})
    assert (await ws.expect_type("error"))["code"] == "unauthorized"
    await ws.send({"type": "ping", "id": 2})  # a refused refresh does not end the connection
    assert (await ws.expect_type("pong"))["id"] == 2
    assert (await ws.open("still-alice"))["type"] == "opened"
