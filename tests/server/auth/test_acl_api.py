"""The access list REST API of documents and collections."""

from __future__ import annotations

import pytest

from tests.server.auth.conftest import Rest

PATHS = ["/v1/docs/board/acl", "/v1/collections/board/acl"]


async def create(rest: Rest, path: str, owner: str = "alice") -> None:
    """Give ``owner`` the object: a document by writing to it, a collection through an admin."""
    if path.startswith("/v1/docs/"):
        assert (await rest.submit(owner, "board", ["x"], seq=1, version=0)).status == 200
    else:
        reply = await rest("PUT", path, "root", json={"users": {owner: "owner"}})
        assert reply.status == 200, reply.body


@pytest.mark.parametrize("path", PATHS)
async def test_owners_read_replace_and_patch_the_list(rest: Rest, path: str) -> None:
    await create(rest, path)
    got = await rest("GET", path, "alice")
    assert got.body == {"users": {"alice": "owner"}, "groups": {}, "authenticated": None}
    new = {"users": {"alice": "owner", "bob": "editor"}, "groups": {"qa": "viewer"}}
    put = await rest("PUT", path, "alice", json=new)
    assert put.status == 200 and put.body == {**new, "authenticated": None}
    patched = await rest(
        "PATCH", path, "alice", json={"users": {"bob": None}, "authenticated": "viewer"}
    )
    assert patched.body == {
        "users": {"alice": "owner"},
        "groups": {"qa": "viewer"},
        "authenticated": "viewer",
    }
    assert (await rest("GET", path, "alice")).body == patched.body


@pytest.mark.parametrize("path", PATHS)
async def test_editors_and_strangers_may_not_manage(rest: Rest, path: str) -> None:
    await create(rest, path)
    await rest("PATCH", path, "alice", json={"users": {"bob": "editor"}})
    for user, message in [("bob", "you are editor"), ("mallory", "no access")]:
        for method, body in [("GET", None), ("PATCH", {"users": {user: "owner"}})]:
            reply = await rest(method, path, user, json=body)
            assert reply.status == 403 and message in reply.body["error"]["message"]
    assert (await rest("GET", path, "alice")).body["users"] == {"alice": "owner", "bob": "editor"}


async def test_invalid_lists_are_400_and_change_nothing(rest: Rest) -> None:
    path = PATHS[0]
    await create(rest, path)
    for body in [{"users": {"alice": "god"}}, {"users": {"alice": "editor"}}, [1]]:
        reply = await rest("PUT", path, "alice", json=body)
        assert reply.status == 400 and reply.body["error"]["code"] == "invalid_field"
    orphaned = await rest("PATCH", path, "alice", json={"users": {"alice": None}})
    assert orphaned.status == 400 and "at least one owner" in orphaned.body["error"]["message"]
    assert (await rest("GET", path, "alice")).body["users"] == {"alice": "owner"}


async def test_an_object_without_a_list_is_managed_only_by_admins(rest: Rest) -> None:
    reply = await rest(
        "PUT", "/v1/collections/fresh/acl", "alice", json={"users": {"alice": "owner"}}
    )
    assert reply.status == 403
    assert (await rest("GET", "/v1/collections/fresh/acl", "root")).body["users"] == {}
