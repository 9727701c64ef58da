"""What the client tells the application: document events and the connection status. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ot import TextOperation

Cursor = tuple[int, int]  # (anchor, head) in code points of the local text


class Status(StrEnum):
    """The replica's connection status.

    ``offline``: no connection. ``syncing``: connected, but catching up or with local changes
    not yet acknowledged. ``online``: connected and everything local is on the server.
    """

    OFFLINE = "offline"
    SYNCING = "syncing"
    ONLINE = "online"


def status_of(*, connected: bool, caught_up: bool, outbox_depth: int) -> Status:
    """The status for a connection state, whether every document has caught up, and the depth."""
    if not connected:
        return Status.OFFLINE
    if caught_up and outbox_depth == 0:
        return Status.ONLINE
    return Status.SYNCING


@dataclass(frozen=True, slots=True)
class RemoteChange:
    """Someone else's edit reached this replica.

    ``op`` applies to the local text as it was just before, and gave ``text``. ``client`` is
    ``None`` when the change merges a document the server had to resend whole (a resync).
    """

    op: TextOperation
    text: str
    version: int
    client: str | None
    user: str | None


@dataclass(frozen=True, slots=True)
class PresenceChange:
    """Another client moved its cursor (``None``: it cleared it or left the document)."""

    client: str
    user: str | None
    cursor: Cursor | None
    info: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The server refused local edits; they were undone. ``op`` is the undo, as applied."""

    code: str
    message: str
    op: TextOperation
    text: str


Event = RemoteChange | PresenceChange | Rejected


@dataclass(frozen=True, slots=True)
class RecordsChanged:
    """Synced records changed locally: ``(collection, id)`` pairs. An id of ``""`` means the
    whole collection was dropped (access lost); ``("*", "")`` that every record was (the feed
    expired the cursor and sync starts over)."""

    records: frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class WriteRejected:
    """The server refused a local record write for good; it left the outbox."""

    collection: str
    id: str
    status: int
    code: str
    message: str


EntityEvent = RecordsChanged | WriteRejected
