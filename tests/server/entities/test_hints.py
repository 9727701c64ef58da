"""Change hints end when read access is revoked: over WebSocket and Server-Sent Events, on a
real server whose collection access lists are changed through the access list API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest

from server.auth.settings import AuthSettings
from server.entities.access import StaticAccess
from tests.server.auth.tokens import AUDIENCE, ISSUER, SECRET, mint
from tests.server.entities.api import Api
from tests.server.entities.conftest import StartEntities
from tests.server.wsclient import WsClient

AUTH = AuthSettings(
    jwt_secret=SECRET, issuer=ISSUER, audience=AUDIENCE, admin_users=frozenset({"admin"})
)
TEAM = {"users": {"carol": "owner", "alice": "editor", "bob": "viewer"}}
EVENT_TIMEOUT = 10.0

Subscribe = Callable[..., Awaitable[WsClient]]


@dataclass
class Team:
    """A server with authentication on, where alice may write and bob may read ``tasks`` and
    ``notes``; carol owns both, ``admin`` is an admin."""

    admin: Api
    alice: Api
    bob: Api

    async def patch_acl(self, collection: str, users: dict[str, str | None]) -> None:
        path = f"/v1/collections/{collection}/acl"
        answer = await self.admin.request("PATCH", path, json={"users": users})
        assert answer.status == 200, answer.body


@pytest.fixture
async def team(start_entities: StartEntities, http: aiohttp.ClientSession) -> Team:
    server = await start_entities(auth=AUTH)
    admin, alice, bob = (Api(http, server, token=mint(u)) for u in ("admin", "alice", "bob"))
    for collection in ("tasks", "notes"):
        answer = await admin.request("PUT", f"/v1/collections/{collection}/acl", json=TEAM)
        assert answer.status == 200, answer.body
    return Team(admin, alice, bob)


@pytest.fixture
async def subscribe(http: aiohttp.ClientSession) -> AsyncIterator[Subscribe]:
    """``await subscribe(api, token, ["tasks"])``: a handshaken socket subscribed to hints."""
    clients: list[WsClient] = []

    async def make(api: Api, token: str, collections: list[str], device: str = "1") -> WsClient:
        client = await WsClient.connect(http, api.url("/v1/ws"))
        clients.append(client)
        hello = {"type": "hello", "protocol": 1, "client": f"device-{device}", "token": token}
        await client.send(hello)
        await client.expect_type("welcome")
        await client.send({"type": "subscribe_changes", "collections": collections})
        reply = await client.expect_type("subscribed_changes")
        assert reply["collections"] == sorted(collections)
        return client

    yield make
    for client in clients:
        await client.close()


@asynccontextmanager
async def event_stream(api: Api, collections: str) -> AsyncIterator[aiohttp.StreamReader]:
    """An open ``GET /v1/events`` stream, past its ``: subscribed`` comment."""
    async with api.http.get(
        api.url("/v1/events"),
        params={"collections": collections},
        headers=api.headers,
        timeout=aiohttp.ClientTimeout(total=60),
    ) as response:
        assert response.status == 200
        opening = await asyncio.wait_for(response.content.readuntil(b"\n\n"), EVENT_TIMEOUT)
        assert opening.startswith(b": subscribed")
        yield response.content


async def next_event(stream: aiohttp.StreamReader) -> tuple[str, dict[str, Any]]:
    """The next event's name and data (keep-alive comments skipped)."""
    while True:
        block = await asyncio.wait_for(stream.readuntil(b"\n\n"), EVENT_TIMEOUT)
        lines = block.decode().strip().split("\n")
        if lines[0].startswith("event: "):
            return lines[0].removeprefix("event: "), orjson.loads(lines[1].removeprefix("data: "))


async def settled(client: WsClient) -> None:
    """Wait until the server has sent this socket everything queued before now: hints and
    errors are queued in order with the pong."""
    await client.send({"type": "ping", "id": "barrier"})
    await client.expect_type("pong", id="barrier")


def hints_of(client: WsClient, collection: str) -> list[dict[str, Any]]:
    return [m for m in client.received if m["type"] == "changed" and m["collection"] == collection]


def assert_revoked(message: dict[str, Any], collection: str) -> None:
    assert message["type"] == "error" and message["code"] == "forbidden"
    assert message["collection"] == collection and "revoked" in message["message"]


async def test_revocation_ends_the_collections_hints_on_every_socket_of_the_user(
    team: Team, subscribe: Subscribe
) -> None:
    alice = await subscribe(team.alice, mint("alice"), ["notes", "tasks"])
    phone = await subscribe(team.bob, mint("bob"), ["notes", "tasks"], device="phone")
    laptop = await subscribe(team.bob, mint("bob"), ["notes"], device="laptop")
    await team.patch_acl("notes", {"bob": None})
    for socket in (phone, laptop):
        assert_revoked(await socket.expect_type("error"), "notes")
    # a write after the revocation: alice hears of it, bob's sockets do not
    written = await team.alice.put("notes", "n1", {"text": "secret"}, if_none_match="*")
    assert written.status == 201, written.body
    await alice.expect_type("changed", collection="notes")
    for socket in (phone, laptop):
        await settled(socket)
        assert hints_of(socket, "notes") == []
    # tasks are still readable: their hints go on
    await team.alice.put("tasks", "t1", {"title": "public"})
    await phone.expect_type("changed", collection="tasks")
    # and subscribing to notes again is refused
    await laptop.send({"type": "subscribe_changes", "collections": ["notes"]})
    refused = await laptop.expect_type("error")
    assert refused["code"] == "forbidden" and "notes" in refused["message"]


async def revoke_bob(team: Team, stream: aiohttp.StreamReader, collection: str) -> None:
    """Take ``collection`` from bob; his event stream must say so next."""
    await team.patch_acl(collection, {"bob": None})
    name, data = await next_event(stream)
    assert name == "revoked"
    assert_revoked(data, collection)


async def test_revocation_ends_an_event_stream_with_a_revoked_event(
    team: Team, subscribe: Subscribe
) -> None:
    alice = await subscribe(team.alice, mint("alice"), ["tasks"])
    async with event_stream(team.bob, "tasks") as stream:
        await revoke_bob(team, stream, "tasks")
        written = await team.alice.put("tasks", "t1", {"title": "secret"})
        assert written.status == 201, written.body
        await alice.expect_type("changed", collection="tasks")
        rest = await asyncio.wait_for(stream.read(), EVENT_TIMEOUT)  # no collection is left
    assert b"event:" not in rest
    again = await team.bob.request("GET", "/v1/events", params={"collections": "tasks"})
    assert again.status == 403 and again.error == "forbidden"


async def test_an_event_stream_keeps_the_collections_still_readable(
    team: Team, subscribe: Subscribe
) -> None:
    alice = await subscribe(team.alice, mint("alice"), ["notes"])
    async with event_stream(team.bob, "notes,tasks") as stream:
        await revoke_bob(team, stream, "notes")
        await team.alice.put("notes", "n1", {"text": "secret"}, if_none_match="*")
        await alice.expect_type("changed", collection="notes")
        await team.alice.put("tasks", "t1", {"title": "public"})
        # a leaked notes hint would come first: in an earlier batch, or sorted before tasks
        name, data = await next_event(stream)
        assert (name, data["collection"]) == ("changed", "tasks")


async def test_a_change_that_keeps_read_access_keeps_hints_flowing(
    team: Team, subscribe: Subscribe
) -> None:
    bob = await subscribe(team.bob, mint("bob"), ["tasks"])
    async with event_stream(team.bob, "tasks") as stream:
        await team.patch_acl("tasks", {"bob": "editor", "dave": "viewer"})
        await team.patch_acl("tasks", {"bob": "viewer", "dave": None})
        await team.alice.put("tasks", "t1", {"title": "x"})
        await bob.expect_type("changed", collection="tasks")
        name, data = await next_event(stream)
        assert (name, data["collection"]) == ("changed", "tasks")
    await settled(bob)
    assert [m for m in bob.received if m["type"] == "error"] == []


async def test_a_static_table_ends_hints_when_rechecked(
    start_entities: StartEntities, http: aiohttp.ClientSession
) -> None:
    access = StaticAccess(
        tokens={"ta": "alice", "tb": "bob"},
        readers={"tasks": {"bob"}},
        writers={"tasks": {"alice"}},
    )
    server = await start_entities(access=access)
    alice, bob = Api(http, server, token="ta"), Api(http, server, token="tb")
    async with event_stream(alice, "tasks") as alices, event_stream(bob, "tasks") as bobs:
        access.readers["tasks"] = set()
        access.recheck()
        name, data = await next_event(bobs)
        assert name == "revoked"
        assert_revoked(data, "tasks")
        await alice.put("tasks", "t1", {"title": "x"})
        name, data = await next_event(alices)
        assert (name, data["collection"]) == ("changed", "tasks")
        rest = await asyncio.wait_for(bobs.read(), EVENT_TIMEOUT)
    assert b"event:" not in rest


async def test_a_group_members_socket_gets_hints_without_a_rest_call_first(
    team: Team, subscribe: Subscribe
) -> None:
    """Read access that comes from a group counts on the WebSocket too: the socket's identity
    (its token's groups) decides, not only identities this process saw over REST."""
    await team.admin.request(
        "PATCH", "/v1/collections/tasks/acl", json={"groups": {"staff": "viewer"}}
    )
    token = mint("dave", groups=["staff"])
    socket = await subscribe(team.admin.as_user(token), token, ["tasks"])
    written = await team.alice.put("tasks", "t1", {"title": "for staff"})
    assert written.status == 201, written.body
    await socket.expect_type("changed", collection="tasks")
