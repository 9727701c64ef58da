"""What the hub needs from a connection: an identity and a way to queue encoded messages."""

from __future__ import annotations

from typing import Protocol


class Subscriber(Protocol):
    """A connection that has documents open. ``deliver`` must not block: it queues the bytes of
    one encoded message object, and the transport sends what piled up in one frame."""

    client_id: str
    user: str | None

    def deliver(self, message: bytes) -> None:
        """Queue one encoded message for sending."""
