"""A replica process for the kill-and-resume tests: one document through the Python client,
driven by JSON commands on stdin, one JSON answer per command on stdout.

    python -m tests.clients.python.replica URL DOC STORE

Commands: {"cmd": "edit", "position", "delete", "insert"}, {"cmd": "state"},
{"cmd": "wait_offline"}, {"cmd": "wait_synced"}, and {"cmd": "deafen"}: from then on no server
message reaches the document, so what it submits is committed but never acknowledged here (as
when a process dies between the commit and the ack).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from clients.python import Backoff, Document, open_document


def answer(doc: Document, **extra: Any) -> None:
    state = {"text": doc.text, "version": doc.version, "pending": doc.pending_count}
    print(json.dumps({**state, "open": doc.is_open, **extra}), flush=True)


async def serve(doc: Document) -> None:
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        match command["cmd"]:
            case "edit":
                doc.edit(command["position"], command["delete"], command["insert"])
                await doc.flush()  # saved to the outbox, then handed to the socket if one is up
            case "wait_offline":
                await doc.wait_for(lambda: not doc.is_open)
            case "wait_synced":
                await doc.wait_synced()
            case "deafen":
                doc._connection.detach(doc.doc_id)  # test-only: drop what the server sends
            case "state":
                pass
        answer(doc)


async def main(url: str, doc_id: str, store: str) -> None:
    doc = await open_document(url, doc_id, store=store, backoff=Backoff(0.05, 0.3))
    answer(doc, client=doc._sync.client_id, ready=True)
    try:
        await serve(doc)
    finally:
        await doc.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
