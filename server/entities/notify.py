"""Change notices: wake long polls and send coalesced ``changed`` hints to subscribers.

A commit calls ``notify(collection, seq)``. Subscribers (WebSocket sessions, SSE streams) get at
most one hint per collection per event-loop turn, carrying only the newest position: hints say
"pull now", never carry data, so dropping or merging them is always safe. Commits of other server
processes arrive through a ``FanOut`` bus (the hub's pub/sub abstraction; Redis when several
processes serve one database), with channel names ``entities:{collection}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from server.fanout import FanOut

Deliver = Callable[[str, int], None]  # (collection, seq)
_CHANNEL = "entities:"


class Subscription:
    """One subscriber's interest in some collections, with its pending hints."""

    def __init__(
        self,
        notifier: ChangeNotifier,
        collections: frozenset[str],
        deliver: Deliver,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.collections = collections
        self._notifier = notifier
        self._deliver = deliver
        self._on_stop = on_stop
        self._pending: dict[str, int] = {}
        self._scheduled = False

    def close(self) -> None:
        """Stop receiving hints."""
        self._notifier._subscriptions.discard(self)
        self._pending.clear()

    def drop(self, collection: str) -> None:
        """Stop receiving hints of one collection, a pending one included."""
        self.collections = self.collections - {collection}
        self._pending.pop(collection, None)

    def _stop(self) -> None:
        if self._on_stop is not None:
            self._on_stop()

    def _hint(self, collection: str, seq: int) -> None:
        self._pending[collection] = max(seq, self._pending.get(collection, 0))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, {}
        for collection, seq in sorted(pending.items()):
            self._deliver(collection, seq)


class ChangeNotifier:
    """In-process fan-out of change notices, bridged to other processes by a ``FanOut``."""

    def __init__(self, bus: FanOut | None = None) -> None:
        self._bus = bus
        self._subscriptions: set[Subscription] = set()
        self._waiters: list[tuple[frozenset[str], asyncio.Event]] = []
        self.stopped = False

    async def start(self, collections: Iterable[str]) -> None:
        """Connect the bus and listen for the other processes' commits to ``collections``."""
        if self._bus is None:
            return
        await self._bus.start(self._remote)
        for name in collections:
            self._bus.watch(_CHANNEL + name)

    async def close(self) -> None:
        """Disconnect the bus; wake every long poll."""
        self.stop()
        if self._bus is not None:
            await self._bus.close()

    def stop(self) -> None:
        """The server is shutting down: wake every long poll and stream for good."""
        self.stopped = True
        for _, event in self._waiters:
            event.set()
        for subscription in list(self._subscriptions):
            subscription._stop()

    def notify(self, collection: str, seq: int) -> None:
        """This process committed a change to ``collection`` at ``seq``."""
        self._local(collection, seq)
        if self._bus is not None:
            self._bus.publish(_CHANNEL + collection, seq)

    def subscribe(
        self,
        collections: Iterable[str],
        deliver: Deliver,
        *,
        on_stop: Callable[[], None] | None = None,
    ) -> Subscription:
        """Call ``deliver(collection, seq)`` (coalesced) after changes to ``collections``, and
        ``on_stop`` when the server shuts down."""
        subscription = Subscription(self, frozenset(collections), deliver, on_stop)
        self._subscriptions.add(subscription)
        return subscription

    @contextmanager
    def watching(self, collections: Iterable[str]) -> Iterator[asyncio.Event]:
        """An event set by the next change to ``collections``. Enter it *before* reading the
        feed, so a change committed between the read and the wait still wakes the waiter."""
        entry = (frozenset(collections), asyncio.Event())
        self._waiters.append(entry)
        try:
            yield entry[1]
        finally:
            self._waiters.remove(entry)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    def _remote(self, channel: str, seq: int) -> None:
        if channel.startswith(_CHANNEL):
            self._local(channel[len(_CHANNEL) :], seq)

    def _local(self, collection: str, seq: int) -> None:
        for collections, event in self._waiters:
            if collection in collections:
                event.set()
        for subscription in list(self._subscriptions):
            if collection in subscription.collections:
                subscription._hint(collection, seq)
