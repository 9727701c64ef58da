"""The default policy of new documents, and documents made before access control existed."""

from __future__ import annotations

from dataclasses import replace

import aiohttp

from server.auth.settings import DefaultPolicy
from tests.server.auth.conftest import AUTH, Rest
from tests.server.conftest import ServerFactory


async def test_the_open_policy_makes_every_user_an_editor(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    server = await start_server(auth=replace(AUTH, default_policy=DefaultPolicy.OPEN))
    rest = Rest(http, server)
    assert (await rest.submit("alice", "wiki", ["a"], seq=1, version=0)).status == 200
    assert (await rest.submit("bob", "wiki", [1, "b"], seq=1, version=1)).status == 200
    acl = await rest("GET", "/v1/docs/wiki/acl", "alice")
    assert acl.body == {"users": {"alice": "owner"}, "groups": {}, "authenticated": "editor"}
    assert (await rest("GET", "/v1/docs/wiki/acl", "bob")).status == 403  # editors don't manage


async def test_documents_from_dev_mode_belong_to_admins_until_given_a_list(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    dev = Rest(http, await start_server())  # same data directory, no authentication
    assert (await dev.submit("anyone", "legacy", ["old text"], seq=1, version=0)).status == 200
    rest = Rest(http, await start_server(auth=AUTH))
    for method, path in [("GET", "/v1/docs/legacy"), ("GET", "/v1/docs/legacy/acl")]:
        assert (await rest(method, path, "alice")).status == 403
    claim = await rest.submit("alice", "legacy", [8, "!"], seq=1, version=1)
    assert claim.status == 403  # writing does not claim someone else's document
    assert await rest.text("root", "legacy") == (1, "old text")
    put = await rest("PUT", "/v1/docs/legacy/acl", "root", json={"users": {"alice": "owner"}})
    assert put.status == 200
    assert await rest.text("alice", "legacy") == (1, "old text")
