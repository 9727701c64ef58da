"""The entities API under coedit's access control (server/auth): bearer tokens, and collection
access lists deciding who may read and write, end to end."""

from __future__ import annotations

import aiohttp

from server.auth.settings import AuthSettings
from tests.server.auth.tokens import AUDIENCE, ISSUER, SECRET, mint
from tests.server.entities.api import Api, Replica
from tests.server.entities.conftest import StartEntities

AUTH = AuthSettings(
    jwt_secret=SECRET, issuer=ISSUER, audience=AUDIENCE, admin_users=frozenset({"admin"})
)


async def test_access_lists_decide_reads_and_writes(
    start_entities: StartEntities, http: aiohttp.ClientSession
) -> None:
    server = await start_entities(auth=AUTH)
    admin, alice, bob = (Api(http, server, token=mint(u)) for u in ("admin", "alice", "bob"))
    anonymous = Api(http, server)
    assert (await anonymous.changes(None)).error == "unauthorized"
    assert (await Api(http, server, token="junk").put("tasks", "t", {"title": "x"})).status == 401
    acl = {"users": {"carol": "owner", "alice": "editor", "bob": "viewer"}}
    granted = await admin.request("PUT", "/v1/collections/tasks/acl", json=acl)
    assert granted.status == 200, granted.body
    assert (await alice.put("tasks", "t1", {"title": "by alice"})).status == 201
    denied = await bob.put("tasks", "t2", {"title": "by bob"})
    assert denied.status == 403 and denied.error == "forbidden"
    replica = Replica()
    await bob.pull(replica, collections="tasks")
    assert list(replica.records) == [("tasks", "t1")]
    revoked = await admin.request(
        "PUT", "/v1/collections/tasks/acl", json={"users": {"carol": "owner"}}
    )
    assert revoked.status == 200, revoked.body
    await bob.pull(replica, collections="tasks")
    assert replica.records == {}  # losing access removes the collection's records
