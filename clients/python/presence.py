"""Other clients' cursors, kept in the coordinates of the local text. Pure."""

from __future__ import annotations

from typing import Any

from clients.python.events import Cursor, PresenceChange
from ot import TextOperation, transform_selection


class PresenceMap:
    """The cursors of the other clients of one document, rebased through every change."""

    def __init__(self) -> None:
        self._others: dict[str, PresenceChange] = {}

    def snapshot(self) -> dict[str, PresenceChange]:
        """A copy: client id → its latest presence."""
        return dict(self._others)

    def receive(
        self, message: dict[str, Any], pending: TextOperation | None, length: int
    ) -> PresenceChange:
        """Record a presence message whose cursor counts in the server text at our version.

        The local text is that text with ``pending`` applied, so the cursor moves through it (our
        unacknowledged inserts push it along as the server's commit of them will).
        """
        client = str(message["client"])
        raw = message.get("cursor")
        cursor: Cursor | None = None
        if raw is not None:
            cursor = (int(raw[0]), int(raw[1]))
            if pending is not None:
                cursor = transform_selection(cursor, pending)
            cursor = (min(cursor[0], length), min(cursor[1], length))
        info = message.get("info")
        change = PresenceChange(client, message.get("user"), cursor, info)
        if cursor is None:
            self._others.pop(client, None)
        else:
            self._others[client] = change
        return change

    def transform(self, op: TextOperation, author: str | None) -> None:
        """Move every cursor through a change of the local text made by ``author``."""
        for client, p in self._others.items():
            if p.cursor is not None:
                cursor = transform_selection(p.cursor, op, own=client == author)
                self._others[client] = PresenceChange(client, p.user, cursor, p.info)

    def clear(self) -> list[PresenceChange]:
        """Forget everyone (the connection is gone); returns the clearing events."""
        cleared = [PresenceChange(c, p.user, None, None) for c, p in self._others.items()]
        self._others.clear()
        return cleared
