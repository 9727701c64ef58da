"""Keys from a JWKS URL, served by a real local HTTP server: cached, refreshed on an unknown
``kid`` at most once per interval, refetched when old, and kept through a provider outage."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.auth.jwks import JwksUrl
from server.auth.settings import AuthSettings
from server.auth.tokens import TokenVerifier
from server.protocol.errors import ErrorCode, ProtocolError
from tests.server.auth.tokens import SigningKey, jwks, rsa_key


@dataclass
class Provider:
    """The identity provider's JWKS endpoint: what it serves and how often it was asked."""

    keys: list[SigningKey]
    hits: int = 0
    failing: bool = False
    server: Any = field(default=None)

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.failing:
            return web.Response(status=503)
        return web.json_response(jwks(*self.keys))


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    state = Provider([rsa_key("k1")])
    app = web.Application()
    app.router.add_get("/realms/coedit/protocol/openid-connect/certs", state.handle)
    state.server = TestServer(app)
    await state.server.start_server()
    yield state
    await state.server.close()


@pytest.fixture
async def setup(provider: Provider) -> AsyncIterator[tuple[TokenVerifier, Monotonic]]:
    url = str(provider.server.make_url("/realms/coedit/protocol/openid-connect/certs"))
    settings = AuthSettings(jwks_url=url, jwks_refresh_seconds=60, jwks_max_age_seconds=3600)
    clock = Monotonic()
    keys = JwksUrl(url, settings, clock=clock)
    yield TokenVerifier(settings, keys), clock
    await keys.close()


async def test_keys_are_fetched_once_and_cached(provider: Provider, setup) -> None:
    check, _ = setup
    token = provider.keys[0].mint("alice")
    results = await asyncio.gather(*(check.verify(token) for _ in range(20)))
    assert {identity.user for identity in results} == {"alice"}
    assert provider.hits == 1  # concurrent cold starts share one fetch


async def test_an_unknown_kid_refreshes_and_picks_up_a_rotated_key(provider: Provider, setup):
    check, clock = setup
    await check.verify(provider.keys[0].mint())
    provider.keys.append(rsa_key("k2"))
    clock.now = 61.0
    assert (await check.verify(provider.keys[1].mint("bob"))).user == "bob"
    assert provider.hits == 2


async def test_refreshes_on_unknown_kids_are_rate_limited(provider: Provider, setup) -> None:
    check, clock = setup
    await check.verify(provider.keys[0].mint())
    clock.now = 100.0
    bogus = [rsa_key("bogus-1").mint(), rsa_key("bogus-2").mint()]
    for n in range(50):  # a flood of made-up key ids
        with pytest.raises(ProtocolError) as caught:
            await check.verify(bogus[n % 2])
        assert caught.value.code is ErrorCode.UNAUTHORIZED
        clock.now += 0.5
    assert provider.hits == 2  # one refresh in 25 s of flood, not 50


async def test_old_keys_are_refetched_after_max_age(provider: Provider, setup) -> None:
    check, clock = setup
    token = provider.keys[0].mint()
    await check.verify(token)
    clock.now = 3601.0
    await check.verify(token)
    assert provider.hits == 2


async def test_a_provider_outage_keeps_the_cached_keys(provider: Provider, setup) -> None:
    check, clock = setup
    token = provider.keys[0].mint()
    await check.verify(token)
    provider.failing = True
    clock.now = 4000.0  # stale: a refetch is attempted and fails
    assert (await check.verify(token)).user == "alice"
    assert provider.hits == 2


async def test_no_keys_at_all_is_unavailable(provider: Provider, setup) -> None:
    check, _ = setup
    provider.failing = True
    with pytest.raises(ProtocolError) as caught:
        await check.verify(provider.keys[0].mint())
    assert caught.value.code is ErrorCode.UNAVAILABLE
