"""Two asyncio primitives the client's I/O layer shares: waiting for a condition, and fanning
events out to any number of async iterators."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Notifier:
    """Wakes every waiter whenever something changed; each waiter re-checks its own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (bound the wait with ``asyncio.timeout``)."""
        while not predicate():
            await self._event.wait()


class Subscription(Generic[T]):
    """An async iterator over the items published after it was created, until closed."""

    def __init__(self, owner: Broadcast[T]) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[T | None] = asyncio.Queue()

    def put(self, item: T | None) -> None:
        self._queue.put_nowait(item)

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        item = await self._queue.get()
        if item is None:
            self._owner.unsubscribe(self)
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        """Stop this iterator (after the items already queued) and stop receiving new ones."""
        self._owner.unsubscribe(self)
        self.put(None)


class Broadcast(Generic[T]):
    """Publishes items to every open subscription, in order; none is ever dropped."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription[T]] = set()
        self.closed = False

    def subscribe(self) -> Subscription[T]:
        subscription = Subscription(self)
        if self.closed:
            subscription.close()
        else:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription[T]) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, item: T) -> None:
        for subscription in self._subscriptions:
            subscription.put(item)

    def close(self) -> None:
        """End every subscription; later ones end at once."""
        self.closed = True
        for subscription in list(self._subscriptions):
            subscription.close()
