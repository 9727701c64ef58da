"""Push-invalidate: subscriptions of WebSocket sessions to ``changed`` hints.

A session sends ``{"type": "subscribe_changes", "collections": [...]}`` and then receives
``{"type": "changed", "collection": c, "cursor": position}`` after changes to those collections,
coalesced, never with data: the client pulls ``GET /v1/changes`` with its own cursor. Errors are
the WebSocket protocol's own (``ProtocolError``), since they travel on the hub's socket.
"""

from __future__ import annotations

from typing import Any

import orjson

from server.entities.cursor import Cursor
from server.entities.errors import EntityError
from server.entities.notify import Subscription
from server.entities.service import EntityService
from server.hub.subscriber import Subscriber
from server.protocol.errors import ErrorCode, ProtocolError

MAX_COLLECTIONS = 100


class ChangeHints:
    """The WebSocket side of change hints (one per application)."""

    def __init__(self, service: EntityService) -> None:
        self._service = service
        self._subscriptions: dict[Subscriber, Subscription] = {}

    async def subscribe(self, subscriber: Subscriber, message: dict[str, Any]) -> dict[str, Any]:
        """Handle ``subscribe_changes`` (replacing an earlier one); returns the reply message.

        An empty list unsubscribes.
        """
        names = await self.readable(subscriber.user, message.get("collections"))
        self.unsubscribe(subscriber)
        if names:
            deliver = self._deliverer(subscriber)
            self._subscriptions[subscriber] = self._service.notifier.subscribe(names, deliver)
        return {"type": "subscribed_changes", "collections": names}

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop the subscriber's hints (on disconnect)."""
        subscription = self._subscriptions.pop(subscriber, None)
        if subscription is not None:
            subscription.close()

    def hint(self, collection: str, seq: int) -> dict[str, Any]:
        """The ``changed`` message; its cursor marks the change's position in the feed."""
        position = Cursor(self._service.store.epoch, seq, frozenset()).encode()
        return {"type": "changed", "collection": collection, "cursor": position}

    async def readable(self, user: str | None, value: Any) -> list[str]:
        """Validate a list of collection names the user may read."""
        if (
            not isinstance(value, list)
            or len(value) > MAX_COLLECTIONS
            or not all(isinstance(v, str) for v in value)
        ):
            raise ProtocolError(
                ErrorCode.INVALID_FIELD,
                f"field 'collections' must be an array of at most {MAX_COLLECTIONS} names",
            )
        names = sorted(set(value))
        for name in names:
            try:
                self._service.collection(name)
            except EntityError as exc:
                raise ProtocolError(ErrorCode.INVALID_FIELD, exc.message) from None
            if not await self._service.access.may_read(user, name):
                raise ProtocolError(ErrorCode.FORBIDDEN, f"you may not read collection {name!r}")
        return names

    def _deliverer(self, subscriber: Subscriber) -> Any:
        def deliver(collection: str, seq: int) -> None:
            subscriber.deliver(orjson.dumps(self.hint(collection, seq)))

        return deliver
