"""Push-invalidate: subscriptions of WebSocket sessions to ``changed`` hints.

A session sends ``{"type": "subscribe_changes", "collections": [...]}`` and then receives
``{"type": "changed", "collection": c, "cursor": position}`` after changes to those collections,
coalesced, never with data: the client pulls ``GET /v1/changes`` with its own cursor. When the
user's read access to a subscribed collection is revoked, its hints end and the session gets a
``forbidden`` error naming the collection. Errors are the WebSocket protocol's own
(``ProtocolError``), since they travel on the hub's socket.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson

from server.entities.cursor import Cursor
from server.entities.errors import EntityError
from server.entities.hints import HintSubscription, revoked_message
from server.entities.service import EntityService
from server.hub.subscriber import Subscriber
from server.protocol.errors import ErrorCode, ProtocolError

MAX_COLLECTIONS = 100


class ChangeHints:
    """The WebSocket side of change hints (one per application)."""

    def __init__(self, service: EntityService) -> None:
        self._service = service
        self._subscriptions: dict[Subscriber, HintSubscription] = {}

    async def subscribe(self, subscriber: Subscriber, message: dict[str, Any]) -> dict[str, Any]:
        """Handle ``subscribe_changes`` (replacing an earlier one); returns the reply message.

        An empty list unsubscribes. A refused subscription leaves the earlier one in place.
        """
        names = self.declared(message.get("collections"))
        hints = await self._open(subscriber, names) if names else None
        self.unsubscribe(subscriber)
        if hints is not None and hints.collections:
            self._subscriptions[subscriber] = hints
        return {
            "type": "subscribed_changes",
            "collections": sorted(hints.collections) if hints is not None else [],
        }

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop the subscriber's hints (on disconnect)."""
        subscription = self._subscriptions.pop(subscriber, None)
        if subscription is not None:
            subscription.close()

    def hint(self, collection: str, seq: int) -> dict[str, Any]:
        """The ``changed`` message; its cursor marks the change's position in the feed."""
        position = Cursor(self._service.store.epoch, seq, frozenset()).encode()
        return {"type": "changed", "collection": collection, "cursor": position}

    def declared(self, value: Any) -> list[str]:
        """Validate a list of declared collection names."""
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
        return names

    async def _open(self, subscriber: Subscriber, names: list[str]) -> HintSubscription:
        service = self._service
        hints = HintSubscription(
            service.notifier,
            service.access,
            subscriber.user,
            names,
            self._deliverer(subscriber),
            on_revoked=partial(self._revoked, subscriber),
        )
        try:
            await hints.authorize()
        except EntityError as exc:
            raise ProtocolError(ErrorCode.FORBIDDEN, exc.message) from None
        return hints

    def _revoked(self, subscriber: Subscriber, collection: str) -> None:
        """Read access to ``collection`` was revoked: its hints ended; say so."""
        current = self._subscriptions.get(subscriber)
        if current is not None and not current.collections:
            del self._subscriptions[subscriber]
        subscriber.deliver(orjson.dumps(revoked_message(collection)))

    def _deliverer(self, subscriber: Subscriber) -> Any:
        def deliver(collection: str, seq: int) -> None:
            subscriber.deliver(orjson.dumps(self.hint(collection, seq)))

        return deliver
