"""A role revoked while a document is being opened: between the open's check and the moment the
connection watches the document's access list, no listener hears the change, so the guard reads
the role once more after it starts watching."""

from __future__ import annotations

import asyncio

from server.auth.access import Access
from server.auth.acl import AccessList, Resource
from server.auth.connection import ConnectionGuard
from server.protocol.errors import ErrorCode, ProtocolError
from tests.server.auth.tokens import mint

DOC = Resource.doc("draft")


def guard_of(access: Access) -> ConnectionGuard:
    return ConnectionGuard(access, remote=None, close=lambda code, reason: None)


async def test_a_role_revoked_during_the_open_still_closes_the_document(access: Access) -> None:
    alice, bob = guard_of(access), guard_of(access)
    await alice.authenticate(mint("alice"))
    await alice.authorize_open("draft")  # creates the list: alice owns the document

    async def share(users: dict[str, str | None]) -> None:
        def change(acl: AccessList) -> AccessList:
            return acl.patched({"users": users})

        await access.authorizer.change_acl(alice.identity, DOC, change)

    await share({"bob": "editor"})
    revoked: asyncio.Future[ProtocolError] = asyncio.get_running_loop().create_future()
    bob.attach(lambda error: None, lambda doc_id, error: revoked.set_result(error))
    await bob.authenticate(mint("bob"))
    await bob.authorize_open("draft")  # bob's check passes ...
    await share({"bob": None})  # ... his role goes before his connection watches the list
    bob.opened("draft", 0)
    async with asyncio.timeout(10):
        error = await revoked
    assert error.code is ErrorCode.FORBIDDEN and "revoked" in error.message
