"""``Document``: one open shared text, as the application sees it. The I/O glue around
``DocumentSync``: it saves the state to the outbox before anything is sent, hands messages to the
connection, publishes events and retries refused submissions after a backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from clients.python.backoff import Backoff
from clients.python.connection import Connection, Message
from clients.python.errors import CoeditError, ConnectionFailed, DocumentClosed
from clients.python.events import Cursor, Event, PresenceChange, RemoteChange
from clients.python.notify import Broadcast, Notifier, Subscription
from clients.python.outbox import Outbox
from clients.python.sync import DocumentSync, Phase
from ot import TextOperation


class Document:
    """A shared text document: read ``text``, change it with ``edit``/``replace``, follow others
    through ``events()``/``changes()`` and ``presence``, then ``close()``.

    Local edits apply at once and are saved to the outbox; they reach the server when it is
    reachable, however many restarts later. Positions count code points (``str`` indices).
    """

    def __init__(
        self,
        sync: DocumentSync,
        connection: Connection,
        outbox: Outbox,
        *,
        backoff: Backoff,
        on_change: Callable[[], None] = lambda: None,
        on_close: Callable[[Document], None] = lambda _: None,
    ) -> None:
        self._sync = sync
        self._connection = connection
        self._outbox = outbox
        self._backoff = backoff
        self._on_change = on_change
        self._on_close = on_close
        self._events: Broadcast[Event] = Broadcast()
        self._changed = Notifier()
        self._retries = 0
        self._retry_timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._close_callbacks: list[Callable[[], Awaitable[None]]] = []

    # -- what the application reads -----------------------------------------------------------

    @property
    def doc_id(self) -> str:
        return self._sync.doc_id

    @property
    def text(self) -> str:
        """The text as this replica shows it, local edits included."""
        return self._sync.text

    @property
    def version(self) -> int:
        """The last server version this replica has applied."""
        return self._sync.version

    @property
    def pending_count(self) -> int:
        """Local ops the server has not acknowledged yet (this document's outbox depth)."""
        return self._sync.pending_count

    @property
    def is_open(self) -> bool:
        """Whether the document is open and caught up on a live connection."""
        return self._sync.phase is Phase.OPEN

    @property
    def is_synced(self) -> bool:
        """Open, caught up, and every local edit acknowledged."""
        return self.is_open and self.pending_count == 0

    @property
    def presence(self) -> dict[str, PresenceChange]:
        """The other clients' cursors (client id → presence), in local text coordinates."""
        return self._sync.presence

    def events(self) -> Subscription[Event]:
        """Every event from now on: remote changes, presence changes, rejected local edits."""
        return self._events.subscribe()

    def changes(self) -> AsyncIterator[RemoteChange]:
        """Remote changes from now on (the events subscription starts at this call)."""
        subscription = self._events.subscribe()

        async def remote_changes() -> AsyncIterator[RemoteChange]:
            try:
                async for event in subscription:
                    if isinstance(event, RemoteChange):
                        yield event
            finally:
                subscription.close()

        return remote_changes()

    # -- what the application does ------------------------------------------------------------

    def edit(self, position: int, delete_count: int = 0, insert: str = "") -> None:
        """Delete ``delete_count`` characters at ``position`` and insert ``insert`` there."""
        self.apply(TextOperation.from_edit(position, delete_count, insert))

    def replace(self, text: str) -> None:
        """Make the text ``text``, as one edit of the region that differs."""
        self.apply(TextOperation.from_diff(self.text, text))

    def apply(self, op: TextOperation) -> None:
        """Apply an op to the local text and submit it."""
        self._check_open()
        if op.is_noop:
            return
        self._sync.edit(op)
        self._pump()

    def set_presence(self, cursor: Cursor | None, info: dict[str, Any] | None = None) -> None:
        """Show others our cursor or selection ``(anchor, head)``; ``None`` hides it."""
        self._check_open()
        self._sync.set_presence(cursor, info)
        self._pump()

    async def flush(self) -> None:
        """Wait until what was submitted so far has been handed to the socket, if one is up."""
        await self._connection.flush()

    async def wait_synced(self) -> None:
        """Wait until every local edit is acknowledged. Like every wait here, it can take as
        long as the server is away: bound it with ``asyncio.timeout``."""
        await self.wait_for(lambda: self.is_synced)

    async def wait_open(self) -> None:
        """Wait until the document is open and caught up on a live connection."""
        await self.wait_for(lambda: self.is_open)

    async def close(self) -> None:
        """Close the document. Unacknowledged edits stay in the outbox for the next open; call
        ``wait_synced()`` first to be sure they reached the server."""
        if self._closed:
            return
        self._closed = True
        if self._retry_timer is not None:
            self._retry_timer.cancel()
        if self._sync.phase is not Phase.CLOSED:
            self._connection.send(self._sync.close_message())
        await self._connection.flush()
        self._connection.detach(self.doc_id)
        self._events.close()
        self._changed.notify()
        self._on_close(self)
        for callback in self._close_callbacks:
            await callback()

    def add_close_callback(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await ``callback()`` when the document closes (``open_document`` closes its client)."""
        self._close_callbacks.append(callback)

    # -- what the connection drives -----------------------------------------------------------

    def connected(self) -> None:
        self._sync.connected()
        self._pump()

    def disconnected(self) -> None:
        self._sync.disconnected()
        self._pump()

    def receive(self, message: Message) -> None:
        self._sync.receive(message)
        self._pump()

    def wake(self) -> None:
        """Re-check what waiters wait for (the connection's state changed)."""
        self._changed.notify()

    # -- internals ----------------------------------------------------------------------------

    def _pump(self) -> None:
        """Persist, then send, then tell the application: in that order, so nothing is sent that
        a crash could forget."""
        state = self._sync.state_to_save()
        if state is not None:
            self._outbox.save(state)
        self._connection.send(*self._sync.messages_to_send())
        for event in self._sync.events_received():
            self._events.publish(event)
        if self._sync.wants_retry and self._retry_timer is None:
            delay = self._backoff.delay(self._retries)
            self._retries += 1
            self._retry_timer = asyncio.get_running_loop().call_later(delay, self._retry)
        elif self.is_synced:
            self._retries = 0
        self._changed.notify()
        self._on_change()

    def _retry(self) -> None:
        self._retry_timer = None
        self._sync.retry()
        self._pump()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every change. Raises the
        failure that makes it hopeless (the server refused the document or the token), or
        ``DocumentClosed``."""

        def done() -> bool:
            return predicate() or self._closed or self._failure() is not None

        await self._changed.wait_for(done)
        failure = self._failure()
        if failure is not None and not predicate():
            raise failure
        if self._closed and not predicate():
            raise DocumentClosed(f"document {self.doc_id!r} was closed")

    def _failure(self) -> CoeditError | None:
        return self._sync.failure or self._connection.failure

    def _check_open(self) -> None:
        if self._closed:
            raise DocumentClosed(f"document {self.doc_id!r} was closed; open it again")
        if not self._sync.has_text:
            raise ConnectionFailed(f"document {self.doc_id!r} has not been loaded yet")
