"""Change hints that end when their reader loses access: a subscription whose user's read
access to each collection is watched, and which drops a collection — a pending hint included —
the moment that access is revoked, then tells its owner.

Shared by the WebSocket side (``push``) and Server-Sent Events (``web.events``); no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from server.entities.access import Access, Unwatch
from server.entities.errors import Code, EntityError
from server.entities.notify import ChangeNotifier, Deliver

OnRevoked = Callable[[str], None]  # (collection)


class HintSubscription:
    """One subscriber's hints, ended collection by collection as read access is revoked."""

    def __init__(
        self,
        notifier: ChangeNotifier,
        access: Access,
        user: str | None,
        collections: Iterable[str],
        deliver: Deliver,
        *,
        on_revoked: OnRevoked,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        """Subscribe and watch access at once; call ``authorize`` before trusting it."""
        names = sorted(set(collections))
        self._access, self._user, self._names = access, user, names
        self._on_revoked = on_revoked
        self._subscription = notifier.subscribe(names, deliver, on_stop=on_stop)
        self._unwatch: dict[str, Unwatch] = {
            name: access.watch_read(user, name, partial(self._revoke, name)) for name in names
        }

    async def authorize(self) -> None:
        """Raise ``forbidden``, closed, unless the user may read every collection.

        Access is watched (by ``__init__``) *before* it is checked here, so a revocation
        racing the check either makes the check fail or reaches the watch; checking first would
        leave a moment in which a revocation reached nobody and hints went on flowing.
        """
        try:
            for name in self._names:
                if not await self._access.may_read(self._user, name):
                    raise EntityError(Code.FORBIDDEN, f"you may not read collection {name!r}")
        except BaseException:
            self.close()
            raise

    @property
    def collections(self) -> frozenset[str]:
        """The collections still hinted (none once every one was revoked)."""
        return self._subscription.collections

    def close(self) -> None:
        """Stop every hint and every watch."""
        for unwatch in self._unwatch.values():
            unwatch()
        self._unwatch.clear()
        self._subscription.close()

    def _revoke(self, collection: str) -> None:
        unwatch = self._unwatch.pop(collection, None)
        if unwatch is None:
            return  # already ended: a re-read of the access list repeats the news
        unwatch()
        self._subscription.drop(collection)
        if not self._unwatch:
            self._subscription.close()
        self._on_revoked(collection)


def revoked_message(collection: str) -> dict[str, Any]:
    """The message telling a subscriber that its hints of ``collection`` ended (WebSocket
    message and SSE ``revoked`` event alike)."""
    error = EntityError(
        Code.FORBIDDEN,
        f"your read access to collection {collection!r} was revoked, so its change hints "
        "stopped; pull once to drop its records, and subscribe again only once access is "
        "granted again",
        collection=collection,
    )
    return {"type": "error", **error.to_result()}
