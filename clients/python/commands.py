"""What ``coedit cat`` and ``coedit watch`` do, as coroutines that print through callbacks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import aiohttp

from clients.python.client import CoeditClient
from clients.python.errors import ConnectionFailed, ServerError
from clients.python.events import RemoteChange, Status
from clients.python.rest import RestClient
from ot import TextOperation

CONNECT_SECONDS = 10.0

Print = Callable[[str], None]


async def cat(url: str, doc: str, *, token: str | None = None) -> str:
    """The document's current text."""
    async with aiohttp.ClientSession() as session:
        snapshot = await RestClient(session, url, token=token).document(doc)
    if snapshot is None:
        raise ServerError("not_found", f"document {doc!r} does not exist at {url}", status=404)
    return snapshot.text


async def watch(
    url: str, doc: str, *, token: str | None, as_json: bool, out: Print, err: Print
) -> None:
    """Print every change to ``doc`` through ``out`` and connection news through ``err``,
    until cancelled or the server refuses us for good."""
    client = CoeditClient(url, token=token)
    try:
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                document = await client.open(doc)
        except TimeoutError:
            raise ConnectionFailed(
                f"cannot reach the coedit server at {url} within {CONNECT_SECONDS:g} s; is it "
                "running? Set --url or COEDIT_URL"
            ) from None
        err(f"watching {doc!r} at version {document.version}; Ctrl-C to stop")
        await _follow(client, document.changes(), as_json, out, err)
    finally:
        await client.close()


async def _follow(
    client: CoeditClient,
    changes: AsyncIterator[RemoteChange],
    as_json: bool,
    out: Print,
    err: Print,
) -> None:
    statuses = client.statuses()
    failed = asyncio.ensure_future(client.wait_failed())
    next_change = asyncio.ensure_future(anext(changes))
    next_status = asyncio.ensure_future(anext(statuses))
    try:
        while True:
            waiting = {failed, next_change, next_status}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if failed in done:
                raise failed.result()
            if next_change in done:
                out(format_change(next_change.result(), as_json))
                next_change = asyncio.ensure_future(anext(changes))
            if next_status in done:
                _report(next_status.result(), err)
                next_status = asyncio.ensure_future(anext(statuses))
    finally:
        for future in (failed, next_change, next_status):
            future.cancel()


def _report(status: Status, err: Print) -> None:
    if status is Status.OFFLINE:
        err("offline; reconnecting")
    elif status is Status.ONLINE:
        err("online")


def format_change(change: RemoteChange, as_json: bool) -> str:
    """One output line for a change."""
    if as_json:
        body = {
            "version": change.version,
            "client": change.client,
            "user": change.user,
            "op": change.op.to_json(),
            "text": change.text,
        }
        return json.dumps(body, ensure_ascii=False)
    who = change.user or change.client or "resync"
    return f"v{change.version} {who}: {describe(change.op)}"


def describe(op: TextOperation) -> str:
    """A change in words: ``insert "hi" at 3; delete 2 at 5`` (positions in the text before)."""
    parts: list[str] = []
    position = 0
    for c in op.components:
        if isinstance(c, str):
            parts.append(f"insert {json.dumps(c, ensure_ascii=False)} at {position}")
        elif c > 0:
            position += c
        else:
            parts.append(f"delete {-c} at {position}")
            position -= c
    return "; ".join(parts) or "no change"
