"""Messages with missing or mistyped fields, bad document ids, bad ops, unopened documents: each
is refused with its documented code, commits nothing, and the connection carries on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.hub.errors import provoke, still_alive
from tests.server.wsclient import WsClient

DOC = "fields"


def submit(**fields: Any) -> dict[str, Any]:
    """A valid submit of ``["x"]`` at version 0 as seq 1, with ``fields`` replaced (None drops)."""
    message = {"type": "submit", "doc": DOC, "version": 0, "seq": 1, "op": ["x"], **fields}
    return {k: v for k, v in message.items() if v is not None}


BAD_SUBMITS = {
    "seq missing": (submit(seq=None), "invalid_field"),
    "seq true": (submit(seq=True), "invalid_field"),
    "seq 0": (submit(seq=0), "invalid_field"),
    "seq string": (submit(seq="1"), "invalid_field"),
    "seq float": (submit(seq=1.0), "invalid_field"),
    "seq beyond 2**53": (submit(seq=2**53), "invalid_field"),
    "version missing": (submit(version=None), "invalid_field"),
    "version false": (submit(version=False), "invalid_field"),
    "version negative": (submit(version=-1), "invalid_field"),
    "version string": (submit(version="0"), "invalid_field"),
    "op missing": (submit(op=None), "invalid_field"),
    "op zero": (submit(op=[0]), "invalid_op"),
    "op minus zero": (submit(op=[-0, "x"]), "invalid_op"),
    "op float": (submit(op=[1.5]), "invalid_op"),
    "op nested list": (submit(op=[["x"]]), "invalid_op"),
    "op empty string": (submit(op=[""]), "invalid_op"),
    "op bool": (submit(op=[True]), "invalid_op"),
    "op null item": (submit(op=["x", None]), "invalid_op"),
    "op a string": (submit(op="x"), "invalid_op"),
    "op an object": (submit(op={"insert": "x"}), "invalid_op"),
    "doc missing": (submit(doc=None), "invalid_field"),
    "doc number": (submit(doc=7), "invalid_field"),
    "doc id with a space": (submit(doc="a b"), "invalid_doc_id"),
    "doc not open": (submit(doc="elsewhere"), "doc_not_open"),
}


@pytest.mark.parametrize("message, code", BAD_SUBMITS.values(), ids=BAD_SUBMITS.keys())
async def test_a_bad_submit_is_refused_and_commits_nothing(connect, message, code: str) -> None:
    ws: WsClient = await connect("alice")
    await ws.open(DOC)
    error = await provoke(ws, message, code)
    seq, doc = message.get("seq"), message.get("doc")
    if type(seq) is int and 1 <= seq < 2**53 and isinstance(doc, str) and " " not in doc:
        assert (error["doc"], error["seq"]) == (doc, seq), error  # which op failed
    # nothing was committed and the seq was not used up: the valid op takes version 1
    await ws.send(submit())
    assert await ws.expect_type("ack") == {"type": "ack", "doc": DOC, "version": 1, "seq": 1}


BAD_DOC_IDS = [".hidden", "a b", "x" * 201, "", "ünï", "a/b", "tab\t"]


@pytest.mark.parametrize("doc", BAD_DOC_IDS)
async def test_a_bad_document_id_is_invalid_doc_id(connect, doc: str) -> None:
    ws: WsClient = await connect("alice")
    await provoke(ws, {"type": "open", "doc": doc}, "invalid_doc_id")
    await provoke(ws, {"type": "close", "doc": doc}, "invalid_doc_id")
    await still_alive(ws)


async def test_the_longest_and_oddest_valid_ids_are_accepted(connect) -> None:
    ws: WsClient = await connect("alice")
    for doc in ["x" * 200, "a.b_c:d@e-f", "-", "0"]:
        assert (await ws.open(doc))["type"] == "opened"


BAD_OPENS = {
    "doc missing": {"type": "open"},
    "doc number": {"type": "open", "doc": 5},
    "version string": {"type": "open", "doc": DOC, "version": "3"},
    "version negative": {"type": "open", "doc": DOC, "version": -1},
    "version true": {"type": "open", "doc": DOC, "version": True},
    "version float": {"type": "open", "doc": DOC, "version": 0.0},
}


@pytest.mark.parametrize("message", BAD_OPENS.values(), ids=BAD_OPENS.keys())
async def test_a_bad_open_is_invalid_field(connect, message: dict[str, Any]) -> None:
    ws: WsClient = await connect("alice")
    await provoke(ws, message, "invalid_field")
    assert (await ws.open(DOC))["type"] == "opened"


def presence(**fields: Any) -> dict[str, Any]:
    message = {"type": "presence", "doc": DOC, "version": 0, "cursor": [0, 0], **fields}
    return {k: v for k, v in message.items() if v is not None}


BAD_PRESENCE = {
    "version missing": (presence(version=None), "invalid_field"),
    "cursor a string": (presence(cursor="0"), "invalid_field"),
    "cursor one number": (presence(cursor=[1]), "invalid_field"),
    "cursor negative": (presence(cursor=[0, -1]), "invalid_field"),
    "cursor bools": (presence(cursor=[True, False]), "invalid_field"),
    "info a list": (presence(info=["Al"]), "invalid_field"),
    "info too large": (presence(info={"name": "x" * 2000}), "invalid_field"),
    "cursor past the end": (presence(version=3), "version_from_future"),
    "doc not open": (presence(doc="elsewhere"), "doc_not_open"),
}


@pytest.mark.parametrize("message, code", BAD_PRESENCE.values(), ids=BAD_PRESENCE.keys())
async def test_a_bad_presence_is_refused(connect, message: dict[str, Any], code: str) -> None:
    ws: WsClient = await connect("alice")
    watcher: WsClient = await connect("bob")
    await ws.open(DOC)
    await watcher.open(DOC)
    await provoke(ws, message, code)
    await ws.send(presence(cursor=[0, 0], info={"name": "Al"}))
    forwarded = await watcher.expect_type("presence", client="alice")
    assert forwarded["cursor"] == [0, 0]  # the bad one was never forwarded


async def test_messages_for_a_document_that_is_not_open_are_doc_not_open(connect) -> None:
    ws: WsClient = await connect("alice")
    await provoke(ws, {"type": "close", "doc": DOC}, "doc_not_open")
    await ws.open(DOC)
    await ws.send({"type": "close", "doc": DOC})
    await ws.expect_type("closed", doc=DOC)
    error = await provoke(ws, submit(), "doc_not_open")
    assert error["doc"] == DOC
    await provoke(ws, presence(), "doc_not_open")
    await ws.open(DOC)
    await ws.send(submit())
    await ws.expect_type("ack", seq=1)
