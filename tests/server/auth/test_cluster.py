"""Two server processes' worth of apps on one store: a list changed through one applies to the
other's open sockets within the re-check interval."""

from __future__ import annotations

from dataclasses import replace

import aiohttp

from tests.server.auth.conftest import AUTH, Rest
from tests.server.auth.tokens import mint
from tests.server.conftest import ServerFactory
from tests.server.wsclient import WsClient


async def test_a_revocation_through_one_node_closes_the_document_on_another(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    settings = replace(AUTH, acl_recheck_seconds=0.2)
    first, second = await start_server(auth=settings), await start_server(auth=settings)
    rest = Rest(http, first)
    await rest.submit("alice", "shared", ["text"], seq=1, version=0)
    await rest.share("alice", "shared", bob="viewer")
    bob = await WsClient.connect(http, str(second.make_url("/v1/ws")))
    await bob.send({"type": "hello", "protocol": 1, "client": "b1", "token": mint("bob")})
    await bob.expect_type("welcome")
    assert (await bob.open("shared"))["text"] == "text"

    await rest.share("alice", "shared", bob=None)  # through the first node
    revoked = await bob.expect_type("error", doc="shared")  # on the second, within ~0.2 s
    assert revoked["code"] == "forbidden" and "revoked" in revoked["message"]
    await bob.close()
