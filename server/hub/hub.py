"""The hub: keeps open documents in memory, subscribes connections to them, serves their history
and presence, and queues submissions for the commit pipeline (``server.hub.commit``). No sockets:
connections reach it through the ``Subscriber`` interface.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from ot import TextOperation, transform_selection
from server.background import keep_running
from server.config import HubSettings, Limits
from server.fanout import FanOut, LocalFanOut
from server.hub.commit import CommitPipeline
from server.hub.document import Document, PendingSubmit, Presence
from server.hub.history import (
    History,
    broadcast,
    future_version,
    op_entry,
    unavailable,
)
from server.hub.loading import read_document
from server.hub.observer import HubObserver, NullObserver
from server.hub.subscriber import Subscriber
from server.protocol.errors import ErrorCode, ProtocolError
from server.storage import CommittedOp, DocumentStore, Snapshot, StorageError

log = logging.getLogger(__name__)

Ack = tuple[int, bool]  # (version, duplicate)


class Hub:
    """Open documents and their commit pipelines, over one ``DocumentStore``."""

    def __init__(
        self,
        store: DocumentStore,
        settings: HubSettings,
        limits: Limits,
        *,
        fanout: FanOut | None = None,
        clock: Callable[[], float] = time.time,
        observer: HubObserver | None = None,
    ) -> None:
        observer = observer if observer is not None else NullObserver()
        self._store = store
        self._fanout: FanOut = fanout if fanout is not None else LocalFanOut()
        self._settings = settings
        self._clock = clock
        self._docs: dict[str, Document] = {}
        self._loading: dict[str, asyncio.Task[Document]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._history = History(store, observer)
        self._pipeline = CommitPipeline(
            store,
            self._history,
            self._fanout,
            settings,
            limits,
            observer,
            clock=clock,
            spawn=self._spawn,
        )

    @property
    def open_documents(self) -> int:
        """How many documents are in memory."""
        return len(self._docs)

    # -- reading ------------------------------------------------------------------------------

    async def open(
        self, doc_id: str, subscriber: Subscriber, known_version: int | None
    ) -> dict[str, Any]:
        """Subscribe to a document (creating it if new) and return the ``opened`` message.

        With ``known_version`` the message carries every op since it, else the whole text. The
        subscriber is registered in the same step that reads the head, so the ops delivered
        afterwards continue exactly where the message ends.
        """
        doc = await self.document(doc_id, create=True)
        if known_version is not None and known_version > doc.version:
            raise future_version(doc, known_version)
        message: dict[str, Any] = {"type": "opened", "doc": doc_id}
        if known_version is None:
            message["text"] = doc.text
        else:
            ops = await self._history.since(doc, known_version)
            message["ops"] = [op_entry(c) for c in ops]
        message["version"] = doc.version
        message["presence"] = [p.to_message(doc_id) for p in doc.presence.values() if p.cursor]
        doc.subscribers.add(subscriber)
        return message

    def close(self, doc_id: str, subscriber: Subscriber) -> None:
        """Unsubscribe; the others see the subscriber's presence cleared."""
        doc = self._docs.get(doc_id)
        if doc is None or subscriber not in doc.subscribers:
            return
        doc.subscribers.discard(subscriber)
        if doc.presence.pop(subscriber, None) is not None:
            cleared = {"type": "presence", "doc": doc_id, "client": subscriber.client_id}
            broadcast(doc, orjson.dumps({**cleared, "cursor": None}), skip=subscriber)
        if not doc.subscribers:
            doc.idle_since = self._clock()

    async def snapshot(self, doc_id: str) -> Snapshot:
        """The current text and version of an existing document (``not_found`` otherwise)."""
        doc = await self.document(doc_id, create=False)
        return Snapshot(doc.text, doc.version)

    async def ops_page(self, doc_id: str, since: int, limit: int) -> tuple[list[CommittedOp], int]:
        """Up to ``limit`` ops committed after ``since``, and the document's current version."""
        doc = await self.document(doc_id, create=False)
        if since > doc.version:
            raise future_version(doc, since)
        in_memory = doc.history_since(since)
        if in_memory is not None:
            return in_memory[:limit], doc.version
        return await self._history.page(doc, since, limit), doc.version

    # -- writing ------------------------------------------------------------------------------

    def submit(
        self,
        doc: Document,
        *,
        origin: Subscriber | None,
        client_id: str,
        user: str | None,
        seq: int,
        base_version: int,
        op: TextOperation,
    ) -> asyncio.Future[Ack]:
        """Queue an op for commit; the future resolves to ``(version, duplicate)`` once durable.

        The origin, if any, is sent its ``ack`` by the pipeline itself, in version order with the
        ops it broadcasts, so a client never sees a later op before the ack of its own.
        """
        key = (client_id, seq)
        running = doc.inflight.get(key)
        if running is not None:
            return running  # the same submission again while it is still being committed
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        doc.inflight[key] = future
        doc.pending.append(PendingSubmit(origin, client_id, user, seq, base_version, op, future))
        self._pipeline.run(doc)
        return future

    def set_presence(
        self,
        doc: Document,
        subscriber: Subscriber,
        *,
        version: int,
        cursor: tuple[int, int] | None,
        info: dict[str, Any] | None,
    ) -> None:
        """Record a subscriber's cursor, rebased to the head, and forward it to the others."""
        if version > doc.version:
            raise future_version(doc, version)
        if cursor is not None:
            since = doc.history_since(version)
            if since is None:
                return  # too old to rebase; the client will send a newer one
            for entry in since:
                own = entry.client_id == subscriber.client_id
                cursor = transform_selection(cursor, entry.op, own=own)
            limit = len(doc.text)
            cursor = (min(cursor[0], limit), min(cursor[1], limit))
        presence = Presence(subscriber.client_id, subscriber.user, cursor, info)
        if cursor is None:
            doc.presence.pop(subscriber, None)
        else:
            doc.presence[subscriber] = presence
        message = {**presence.to_message(doc.id), "version": doc.version}
        broadcast(doc, orjson.dumps(message), skip=subscriber)

    # -- lifecycle ----------------------------------------------------------------------------

    async def document(self, doc_id: str, *, create: bool) -> Document:
        """The open document, loading it from storage (and creating it when asked) if needed."""
        doc = self._docs.get(doc_id)
        if doc is not None:
            return doc
        task = self._loading.get(doc_id)
        if task is None:
            task = asyncio.create_task(self._load(doc_id, create))
            self._loading[doc_id] = task
            task.add_done_callback(lambda _: self._loading.pop(doc_id, None))
        try:
            return await asyncio.shield(task)
        except ProtocolError as exc:
            if create and exc.code is ErrorCode.NOT_FOUND:
                return await self.document(doc_id, create=True)
            raise

    def evict_idle(self) -> int:
        """Drop documents idle for longer than the configured time; returns how many."""
        cutoff = self._clock() - self._settings.idle_seconds
        idle = [d for d in self._docs.values() if d.is_idle and d.idle_since <= cutoff]
        for doc in idle:
            del self._docs[doc.id]
            self._fanout.unwatch(doc.id)
        return len(idle)

    def remote_commit(self, doc_id: str, version: int) -> None:
        """Another process committed ``doc_id`` up to ``version``: pull what this one missed.

        The pull runs in the document's commit loop, so it never interleaves with a commit.
        """
        doc = self._docs.get(doc_id)
        if doc is None or version <= doc.version:
            return
        doc.behind = True
        self._pipeline.run(doc)

    async def drain(self) -> None:
        """Wait until every queued commit and snapshot has finished (for shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # -- internals ----------------------------------------------------------------------------

    async def _load(self, doc_id: str, create: bool) -> Document:
        try:
            doc = await read_document(
                self._store, doc_id, self._settings.history_limit, create=create
            )
        except StorageError as exc:
            raise unavailable(exc, doc_id) from exc
        if doc is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"document {doc_id!r} not found")
        doc.idle_since = self._clock()
        self._docs[doc_id] = doc
        self._fanout.watch(doc_id)
        return doc

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        keep_running(coroutine, self._background)
