"""Dev mode (no authentication configured): everyone is an anonymous owner, and it says so."""

from __future__ import annotations

import logging

import pytest

from tests.server.auth.conftest import Rest
from tests.server.conftest import ServerFactory
from tests.server.wsclient import WsClient


@pytest.fixture
async def server(start_server: ServerFactory):
    """The dev-mode server (this directory's conftest otherwise requires tokens)."""
    return await start_server()


async def test_start_up_says_it_is_dev_mode(start_server: ServerFactory, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="server.auth.access"):
        await start_server()
    assert any("dev mode" in r.getMessage() for r in caplog.records)


async def test_anyone_reads_writes_and_manages_without_a_token(connect, rest: Rest) -> None:
    ws: WsClient = await connect("c1")
    assert (await ws.open("open-doc"))["type"] == "opened"
    assert (await rest.submit("x", "open-doc", ["hi"], seq=1, version=0)).status == 200
    assert (await rest("GET", "/v1/docs/open-doc", token="ignored")).status == 200
    acl = await rest("PUT", "/v1/docs/open-doc/acl", json={"users": {"bob": "owner"}})
    assert acl.status == 200
    assert (await rest("GET", "/v1/docs/open-doc")).status == 200  # lists are not enforced
    audit = await rest("GET", "/v1/audit?doc=open-doc")
    kinds = [e["kind"] for e in audit.body["entries"]]
    assert kinds[:2] == ["doc.opened", "op.committed"]
    assert {e["user"] for e in audit.body["entries"]} == {None}


async def test_dev_mode_has_no_abuse_limits(connect) -> None:
    ws: WsClient = await connect("load-tester")
    await ws.send(*({"type": "ping", "id": n} for n in range(1500)))  # over any default burst
    await ws.expect_type("pong", id=1499)
    assert not [m for m in ws.received if m["type"] == "error"]
