"""The order in which a commit's messages are queued across connections: the submitter's ack
first, so that a large room's broadcast does not delay it (outboxes are written in the order
their first message of a loop turn was queued)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson

from ot import TextOperation
from server.config import HubSettings, Limits
from server.hub.hub import Hub
from server.storage.sqlite import SqliteStore

Log = list[tuple[str, str]]


class Recorder:
    """A subscriber that logs what it is delivered, in one log shared by all of them."""

    def __init__(self, client_id: str, log: Log) -> None:
        self.client_id = client_id
        self.user: str | None = None
        self._log = log

    def deliver(self, message: bytes) -> None:
        self._log.append((self.client_id, orjson.loads(message)["type"]))

    relay = deliver

    def when_sent(self, callback: Callable[[], None]) -> None:
        callback()


async def test_the_submitters_ack_is_queued_before_the_broadcast(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "coedit.db", synchronous="NORMAL")
    await store.open()
    hub = Hub(store, HubSettings(), Limits())
    log: Log = []
    room = [Recorder(f"reader-{n}", log) for n in range(20)]
    writer = Recorder("writer", log)
    try:
        for subscriber in [*room, writer]:
            await hub.open("room", subscriber, None)
        doc = await hub.document("room", create=True)
        future = hub.submit(
            doc, origin=writer, client_id="writer", user=None, seq=1, base_version=0,
            op=TextOperation.from_json(["hi"]),
        )  # fmt: skip
        assert await future == (1, False)
        assert log[0] == ("writer", "ack")
        assert sorted(log[1:]) == sorted((r.client_id, "op") for r in room)
    finally:
        await store.close()
