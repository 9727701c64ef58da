"""``EntitySync``: synced records for offline-first apps (docs/entities.md). Local writes go to
the outbox at once and are pushed in batches (``POST /v1/batch``) with idempotency keys; changes
are pulled from the feed (``GET /v1/changes``) from the stored cursor. A ``changed`` hint on the
WebSocket, a local write or a periodic timer starts the next round; failures back off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from clients.python.backoff import Backoff
from clients.python.connection import Message
from clients.python.entity_store import EntityStore, Settled
from clients.python.errors import AuthenticationFailed, CoeditError, ConnectionFailed, ServerError
from clients.python.events import EntityEvent, RecordsChanged, WriteRejected
from clients.python.notify import Broadcast, Notifier, Subscription
from clients.python.rest import RestClient, raise_for

log = logging.getLogger(__name__)

CLIENT_HEADER = "Coedit-Client"
RETRYABLE = frozenset({"unavailable", "rate_limited", "internal_error", "idempotency_key_in_use"})


class RetryLater(CoeditError):
    """The round stopped at a transient failure; the next one, after a backoff, resumes it."""


class EntitySync:
    """One replica's synced records over the entities API."""

    def __init__(
        self,
        url: str,
        store: EntityStore,
        *,
        client_id: str,
        token: str | None = None,
        collections: list[str],
        batch_size: int = 100,
        page_size: int = 500,
        poll_seconds: float = 30.0,
        backoff: Backoff | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.failure: CoeditError | None = None
        self._url = url
        self._client_id = client_id
        self._token = token
        self._collections = sorted(set(collections))
        self._batch_size = batch_size
        self._page_size = page_size
        self._poll_seconds = poll_seconds
        self._backoff = backoff or Backoff()
        self._on_change = on_change
        self._events: Broadcast[EntityEvent] = Broadcast()
        self._changed = Notifier()
        self._kick = asyncio.Event()
        self._rounds = 0  # completed push-and-pull rounds
        self._in_round = False
        self._send_subscription: Callable[[Message], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- the application's side ---------------------------------------------------------------

    def put(self, collection: str, record_id: str, data: dict[str, Any], **pre: Any) -> None:
        """Replace (or create) a record. ``if_match=version`` or ``if_none_match=True`` make it
        conditional; without, the collection's merge policies resolve concurrent writes."""
        self._queue(collection, record_id, "put", data, **pre)

    def patch(self, collection: str, record_id: str, patch: dict[str, Any], **pre: Any) -> None:
        """Merge a JSON Merge Patch with field operators (``$inc``, ``$add``, ``$remove``)."""
        self._queue(collection, record_id, "patch", patch, **pre)

    def delete(self, collection: str, record_id: str, **pre: Any) -> None:
        """Delete a record."""
        self._queue(collection, record_id, "delete", None, **pre)

    def get(self, collection: str, record_id: str) -> dict[str, Any] | None:
        """The record's data as this replica sees it (its own pending writes included)."""
        return self.store.get(collection, record_id)

    def all(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every record of ``collection``: id → data."""
        return self.store.all(collection)

    @property
    def depth(self) -> int:
        """Writes waiting in the outbox."""
        return self.store.depth()

    def events(self) -> Subscription[EntityEvent]:
        """Record changes and refused writes from now on."""
        return self._events.subscribe()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds; re-checked after every local or synced change."""
        await self._changed.wait_for(lambda: predicate() or self.failure is not None)
        if self.failure is not None and not predicate():
            raise self.failure

    async def wait_synced(self) -> None:
        """Wait until the outbox is empty and a pull has run after the last local write.
        Bound it with ``asyncio.timeout``; raises the failure that stopped syncing, if any."""
        wanted = self._rounds + (2 if self._in_round else 1)  # a round that began after now
        await self._changed.wait_for(
            lambda: self.failure is not None or (self._rounds >= wanted and self.depth == 0)
        )
        if self.failure is not None:
            raise self.failure

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="coedit entities")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()
        self._events.close()

    async def sync(self) -> None:
        """One round: push the whole outbox, then pull the feed to its end."""
        rest = self._rest()
        self._in_round = True
        try:
            await self._push(rest)
            await self._pull(rest)
        finally:
            self._in_round = False
        self._rounds += 1
        self._changed.notify()

    # -- the WebSocket's side (``Connection.listen``) -----------------------------------------

    def attach(self, send: Callable[[Message], None]) -> None:
        """Ask for ``changed`` hints through ``send`` (the connection's), on every connect."""
        self._send_subscription = send

    def connected(self) -> None:
        if self._send_subscription is not None:
            message = {"type": "subscribe_changes", "collections": self._collections}
            self._send_subscription(message)
        self._kick.set()  # we may have missed hints while away

    def disconnected(self) -> None:
        pass

    def receive(self, message: Message) -> None:
        if message.get("type") == "changed":
            self._kick.set()

    # -- internals ----------------------------------------------------------------------------

    def _queue(
        self, collection: str, record_id: str, op: str, body: dict[str, Any] | None, **pre: Any
    ) -> None:
        write = self.store.queue(collection, record_id, op, body, **pre)
        self._events.publish(RecordsChanged(frozenset({(write.collection, write.id)})))
        self._kick.set()
        self._changed.notify()
        self._on_change()

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._kick.clear()
            try:
                await self.sync()
                attempt = 0
                delay = self._poll_seconds
            except (RetryLater, ConnectionFailed) as exc:
                log.debug("entity sync will retry: %s", exc)
                delay = self._backoff.delay(attempt)
                attempt += 1
            except CoeditError as exc:
                log.error("entity sync stopped: %s", exc)
                self.failure = exc
                self._changed.notify()
                self._on_change()
                return
            except Exception:  # a bug or a malformed answer must not end syncing for good
                log.exception("entity sync failed; retrying")
                delay = self._backoff.delay(attempt)
                attempt += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._kick.wait()

    async def _push(self, rest: RestClient) -> None:
        while True:
            batch = self.store.pending(self._batch_size)
            if not batch:
                return
            body = {"writes": [w.to_batch_item() for w in batch], "atomic": False}
            status, answer = await rest.request("POST", "/v1/batch", body, headers=self._headers)
            if status == 413 and self._batch_size > 1:
                self._batch_size = max(1, self._batch_size // 2)  # the server's limit is lower
                continue
            self._check(status, answer)
            results = sorted(answer["results"], key=lambda r: int(r["index"]))
            settled = self.store.settle(list(zip(batch, results, strict=True)))
            self._report(settled)
            if settled.retry:
                raise RetryLater(f"{settled.retry} write(s) of a batch must be retried")

    async def _pull(self, rest: RestClient) -> None:
        while True:
            params = {
                "limit": str(self._page_size),
                "own": "mark",
                "collections": ",".join(self._collections),
            }
            cursor = self.store.cursor()
            if cursor is not None:
                params["since"] = cursor
            status, page = await rest.request(
                "GET", "/v1/changes", params=params, headers=self._headers
            )
            if status == 410 and cursor is not None:
                log.warning("the changes feed expired our cursor: pulling everything again")
                self.store.reset()
                self._events.publish(RecordsChanged(frozenset({("*", "")})))
                continue
            self._check(status, page)
            changed = self.store.apply_page(page["changes"], page["next_cursor"])
            if changed:
                self._events.publish(RecordsChanged(frozenset(changed)))
                self._changed.notify()
            if not page["has_more"]:
                return

    def _report(self, settled: Settled) -> None:
        if settled.changed:
            self._events.publish(RecordsChanged(frozenset(settled.changed)))
        for r in settled.rejected:
            w = r.write
            self._events.publish(WriteRejected(w.collection, w.id, r.status, r.code, r.message))
        self._changed.notify()
        self._on_change()

    def _check(self, status: int, answer: dict[str, Any]) -> None:
        try:
            raise_for(status, answer)
        except AuthenticationFailed:
            raise
        except ServerError as exc:
            if exc.code in RETRYABLE or status in (429, 502, 503, 504):
                raise RetryLater(str(exc)) from exc
            raise

    def _rest(self) -> RestClient:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return RestClient(self._session, self._url, token=self._token)

    @property
    def _headers(self) -> dict[str, str]:
        return {CLIENT_HEADER: self._client_id}
