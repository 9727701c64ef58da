"""Tokens: the library sends them in ``hello`` and as a bearer header, the CLI takes --token or
COEDIT_TOKEN, and a refused token stops the client with ``AuthenticationFailed``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import jwt
import pytest

from clients.python import AuthenticationFailed, CoeditClient, open_document
from server.auth.settings import AuthSettings, DefaultPolicy
from tests.clients.python.conftest import FAST, LiveServer
from tests.clients.python.test_cli import coedit

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
TIMEOUT = 10


def token(user: str, secret: str = SECRET) -> str:
    return jwt.encode({"sub": user, "exp": time.time() + 3600}, secret, algorithm="HS256")


@pytest.fixture
async def secured(live: LiveServer) -> LiveServer:
    await live.stop()
    auth = AuthSettings(jwt_secret=SECRET, default_policy=DefaultPolicy.OPEN)
    live.settings = replace(live.settings, auth=auth)
    await live.start()
    return live


async def test_a_valid_token_opens_edits_and_reads(secured: LiveServer) -> None:
    alice = await open_document(secured.url, "t", token=token("alice"), backoff=FAST)
    async with CoeditClient(secured.url, token=token("bob"), backoff=FAST) as bob:
        bob_doc = await bob.open("t")
        changes = bob_doc.changes()
        alice.edit(0, 0, "signed")
        async with asyncio.timeout(TIMEOUT):
            change = await anext(changes)
        assert (change.user, change.text) == ("alice", "signed")
    await alice.close()
    assert await coedit("cat", "t", "--url", secured.url, "--token", token("carol")) == (
        0,
        "signed",
        "",
    )
    env = {"COEDIT_TOKEN": token("carol")}
    assert await coedit("cat", "t", "--url", secured.url, env=env) == (0, "signed", "")


async def test_a_refused_token_stops_the_client(secured: LiveServer) -> None:
    with pytest.raises(AuthenticationFailed):
        async with asyncio.timeout(TIMEOUT):
            await open_document(secured.url, "t", token=token("mallory", "x" * 43), backoff=FAST)
