"""Fixtures for access control tests: a real server that requires tokens, users who connect to
it over WebSocket, and a REST helper that calls it as a given user."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from server.auth.access import Access
from server.auth.settings import AuthSettings
from server.auth.store.sqlite import SqliteAuthStore
from tests.server.auth.tokens import AUDIENCE, ISSUER, SECRET, mint
from tests.server.conftest import ServerFactory
from tests.server.wsclient import WsClient

AUTH = AuthSettings(
    jwt_secret=SECRET,
    issuer=ISSUER,
    audience=AUDIENCE,
    leeway_seconds=0,
    admin_users=frozenset({"root"}),
)


@pytest.fixture
def auth_settings() -> AuthSettings:
    return AUTH


async def _no_document(doc_id: str) -> bool:
    return False


class ShiftedClock:
    """The real time plus an offset that a test moves forward (tokens stay valid meanwhile
    only while it is small)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
async def access(
    tmp_path: Path, auth_settings: AuthSettings, clock: ShiftedClock
) -> AsyncIterator[Access]:
    """The access state of one process, without a server: ``auth_settings`` (tokens required),
    the store in ``tmp_path``, no documents, time from ``clock``."""
    store = SqliteAuthStore(tmp_path / "auth.db", synchronous="NORMAL")
    opened = Access(auth_settings, store, document_exists=_no_document, clock=clock)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def server(start_server: ServerFactory, auth_settings: AuthSettings) -> TestServer:
    """The app with authentication on (replaces the dev-mode server of tests/server)."""
    return await start_server(auth=auth_settings)


Join = Callable[..., Awaitable[WsClient]]


@pytest.fixture
async def join(server: TestServer, http: aiohttp.ClientSession) -> AsyncIterator[Join]:
    """``await join("alice")``: a socket handshaken with a token for alice."""
    clients: list[WsClient] = []

    async def make(user: str, client: str | None = None, *, token: str | None = None) -> WsClient:
        ws = await WsClient.connect(http, str(server.make_url("/v1/ws")))
        clients.append(ws)
        token = token if token is not None else mint(user)
        await ws.send(
            {"type": "hello", "protocol": 1, "client": client or f"{user}-1", "token": token}
        )
        welcome = await ws.expect(lambda m: m["type"] in ("welcome", "error"))
        assert welcome["type"] == "welcome", welcome
        return ws

    yield make
    for ws in clients:
        await ws.close()


@dataclass
class Reply:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]


class Rest:
    """Calls the REST API as a user (a fresh token each call), or with a given token."""

    def __init__(self, http: aiohttp.ClientSession, server: TestServer) -> None:
        self._http = http
        self._server = server

    async def __call__(
        self,
        method: str,
        path: str,
        user: str | None = None,
        *,
        token: str | None = None,
        **kw: Any,
    ) -> Reply:
        headers = dict(kw.pop("headers", {}))
        if token is None and user is not None:
            token = mint(user)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = self._server.make_url(path)
        async with self._http.request(method, url, headers=headers, **kw) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return Reply(response.status, body, response.headers)

    async def submit(
        self,
        user: str,
        doc: str,
        op: list[Any],
        *,
        seq: int,
        version: int,
        client: str | None = None,
    ) -> Reply:
        body = {"client": client or f"{user}-rest", "seq": seq, "version": version, "op": op}
        return await self("POST", f"/v1/docs/{doc}/ops", user, json=body)

    async def text(self, user: str, doc: str) -> tuple[int, str]:
        """The document's version and text, read as ``user`` (who must have a role)."""
        reply = await self("GET", f"/v1/docs/{doc}", user)
        assert reply.status == 200, reply.body
        return reply.body["version"], reply.body["text"]

    async def share(self, owner: str, doc: str, **users: str | None) -> Reply:
        reply = await self("PATCH", f"/v1/docs/{doc}/acl", owner, json={"users": users})
        assert reply.status == 200, reply.body
        return reply


@pytest.fixture
def rest(http: aiohttp.ClientSession, server: TestServer) -> Rest:
    return Rest(http, server)


def submit(doc: str, seq: int, version: int, op: list[Any]) -> dict[str, Any]:
    return {"type": "submit", "doc": doc, "seq": seq, "version": version, "op": op}
