"""What the hub needs from a connection: an identity and a way to queue encoded messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Subscriber(Protocol):
    """A connection that has documents open. ``deliver`` must not block: it queues the bytes of
    one encoded message object, and the transport sends what piled up in one frame."""

    client_id: str
    user: str | None

    def deliver(self, message: bytes) -> None:
        """Queue one encoded message for sending."""

    def relay(self, message: bytes) -> None:
        """Queue one encoded broadcast (an op, a cursor) for sending; unlike ``deliver``, it may
        wait a moment to share a frame with the next ones."""

    def when_sent(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once everything delivered so far is written to the connection (or
        dropped with it); the hub uses it to measure the time to consistency."""
