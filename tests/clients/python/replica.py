"""A replica process for the kill-and-resume tests: one document and the "tasks" records through
the Python client, driven by JSON commands on stdin, one JSON answer per command on stdout.

    python -m tests.clients.python.replica URL DOC STORE

Commands: {"cmd": "edit", "position", "delete", "insert"}, {"cmd": "state"},
{"cmd": "wait_offline"}, {"cmd": "wait_synced"}, {"cmd": "deafen"}: from then on no server
message reaches the document, so what it submits is committed but never acknowledged here (as
when a process dies between the commit and the ack); {"cmd": "increment", "id", "by"}: add to a
task's counter, {"cmd": "records_synced"}.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from clients.python import Backoff, CoeditClient, Document, EntitySync


def answer(doc: Document, records: EntitySync, **extra: Any) -> None:
    state = {"text": doc.text, "version": doc.version, "pending": doc.pending_count}
    entities = {"tasks": records.all("tasks"), "records_pending": records.depth}
    print(json.dumps({**state, "open": doc.is_open, **entities, **extra}), flush=True)


async def serve(doc: Document, records: EntitySync) -> None:
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
            case "increment":
                records.patch("tasks", command["id"], {"count": {"$inc": command["by"]}})
            case "records_synced":
                await records.wait_synced()
            case "state":
                pass
        answer(doc, records)


async def main(url: str, doc_id: str, store: str) -> None:
    client = CoeditClient(url, store=store, backoff=Backoff(0.05, 0.3))
    doc = await client.open(doc_id)
    records = client.records(["tasks"])
    answer(doc, records, client=client.client_id, ready=True)
    try:
        await serve(doc, records)
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
