"""The hub: loads documents into memory, runs each document's commit pipeline and fans committed
ops out to subscribers. No sockets: connections reach it through the ``Subscriber`` interface.

One document's commits are strictly ordered by a single commit loop per document; different
documents commit concurrently, and the store batches their appends into shared transactions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from ot import TextOperation, transform_against, transform_selection
from server.config import HubSettings, Limits
from server.fanout import FanOut, LocalFanOut
from server.hub.document import Document, PendingSubmit, Presence
from server.hub.observer import CommitReport, HubObserver, NullObserver, probe_consistency
from server.hub.subscriber import Subscriber
from server.protocol.errors import ErrorCode, ProtocolError
from server.storage import CommittedOp, DocumentStore, Snapshot, StorageError

log = logging.getLogger(__name__)

Ack = tuple[int, bool]  # (version, duplicate)
_CATCH_UP_PAGE = 1000


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
        self._observer: HubObserver = observer if observer is not None else NullObserver()
        self._store = store
        self._fanout: FanOut = fanout if fanout is not None else LocalFanOut()
        self._settings = settings
        self._limits = limits
        self._clock = clock
        self._docs: dict[str, Document] = {}
        self._loading: dict[str, asyncio.Task[Document]] = {}
        self._background: set[asyncio.Task[None]] = set()

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
            raise self._future_version(doc, known_version)
        message: dict[str, Any] = {"type": "opened", "doc": doc_id}
        if known_version is None:
            message["text"] = doc.text
        else:
            ops = await self._ops_since(doc, known_version)
            message["ops"] = [_op_entry(c) for c in ops]
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
            self._broadcast(doc, _encode({**cleared, "cursor": None}), skip=subscriber)
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
            raise self._future_version(doc, since)
        in_memory = doc.history_since(since)
        if in_memory is not None:
            return in_memory[:limit], doc.version
        try:
            ops = await self._store.ops_since(doc_id, since, limit)
        except StorageError as exc:
            raise _unavailable(exc, doc_id) from exc
        self._check_contiguous(doc, since, ops)
        return ops, doc.version

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
        self._run_commit_loop(doc)
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
            raise self._future_version(doc, version)
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
        self._broadcast(doc, _encode(message), skip=subscriber)

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
        self._run_commit_loop(doc)

    async def drain(self) -> None:
        """Wait until every queued commit and snapshot has finished (for shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # -- internals ----------------------------------------------------------------------------

    async def _load(self, doc_id: str, create: bool) -> Document:
        try:
            snapshot = await self._store.load_snapshot(doc_id)
            if snapshot is None:
                if not create:
                    raise ProtocolError(ErrorCode.NOT_FOUND, f"document {doc_id!r} not found")
                await self._store.create_document(doc_id)
                snapshot = Snapshot("", 0)
            text, version = snapshot.text, snapshot.version
            doc = Document(doc_id, text, version, self._settings.history_limit)
            doc.snapshot_version = version
            while True:
                ops = await self._store.ops_since(doc_id, doc.version, _CATCH_UP_PAGE)
                if not ops:
                    break
                self._check_contiguous(doc, doc.version, ops)
                text = doc.text
                for entry in ops:
                    text = entry.op.apply(text)
                doc.advance(text, ops)
        except StorageError as exc:
            raise _unavailable(exc, doc_id) from exc
        doc.idle_since = self._clock()
        self._docs[doc_id] = doc
        self._fanout.watch(doc_id)
        return doc

    async def _ops_since(self, doc: Document, version: int) -> list[CommittedOp]:
        """Every op after ``version`` up to the head, from memory or storage."""
        ops: list[CommittedOp] = []
        while True:
            in_memory = doc.history_since(version)
            if in_memory is not None:
                return ops + in_memory
            try:
                page = await self._store.ops_since(doc.id, version, _CATCH_UP_PAGE)
            except StorageError as exc:
                raise _unavailable(exc, doc.id) from exc
            self._check_contiguous(doc, version, page)
            ops.extend(page)
            version = page[-1].version

    def _check_contiguous(self, doc: Document, since: int, ops: list[CommittedOp]) -> None:
        expected_first = since + 1
        if since < doc.version and (not ops or ops[0].version != expected_first):
            self._observer.resync_required()
            raise ProtocolError(
                ErrorCode.RESYNC_REQUIRED,
                f"the history of {doc.id!r} after version {since} is no longer kept: reopen the "
                f"document without a version and rebase local edits on its text",
                doc=doc.id,
                version=doc.version,
            )

    def _run_commit_loop(self, doc: Document) -> None:
        if not doc.committing:
            doc.committing = True
            self._spawn(self._commit_loop(doc))

    async def _commit_loop(self, doc: Document) -> None:
        try:
            while doc.pending or doc.behind:
                if doc.behind:
                    doc.behind = False
                    await self._pull_remote(doc)
                if doc.pending:
                    batch, doc.pending = doc.pending, []
                    await self._commit_batch(doc, batch)
        finally:
            doc.committing = False
            if not doc.subscribers:
                doc.idle_since = self._clock()

    async def _commit_batch(self, doc: Document, batch: list[PendingSubmit]) -> None:
        """Rebase, apply and durably append a batch; retry if another writer took the version."""
        try:
            for _ in range(self._settings.commit_retries):
                accepted, committed, text = await self._prepare(doc, batch)
                if not committed:
                    return
                started = time.perf_counter()
                if await self._store.append(doc.id, committed):
                    doc.advance(text, committed)
                    self._publish(doc, accepted, committed, started)
                    self._fanout.publish(doc.id, doc.version)
                    self._maybe_snapshot(doc)
                    return
                await self._catch_up(doc)
                batch = accepted
            error = ProtocolError(
                ErrorCode.UNAVAILABLE, "too much contention on this document; resubmit later"
            )
        except StorageError as exc:
            error = _unavailable(exc, doc.id)
        except Exception as exc:
            log.exception("commit failed for document %r", doc.id)
            error = ProtocolError(ErrorCode.INTERNAL_ERROR, f"commit failed: {exc}")
        for pending in batch:
            self._reject(doc, pending, error)

    async def _prepare(
        self, doc: Document, batch: list[PendingSubmit]
    ) -> tuple[list[PendingSubmit], list[CommittedOp], str]:
        """Rebase each op to the head and apply it; settle duplicates and invalid ops at once."""
        accepted: list[PendingSubmit] = []
        committed: list[CommittedOp] = []
        text = doc.text
        now = self._clock()
        for pending in batch:
            try:
                duplicate_of = await self._duplicate_version(doc, pending, committed)
                if duplicate_of is not None:
                    self._settle(doc, pending, duplicate_of, duplicate=True)
                    continue
                op = await self._rebase(doc, pending, committed, len(text))
                new_text = op.apply(text)
                if len(new_text) > self._limits.max_doc_chars:
                    raise ProtocolError(
                        ErrorCode.DOC_TOO_LARGE,
                        f"the document would have {len(new_text)} characters; the limit is "
                        f"{self._limits.max_doc_chars}",
                    )
            except ProtocolError as exc:
                self._reject(doc, pending, exc)
                continue
            text = new_text
            version = doc.version + len(committed) + 1
            entry = CommittedOp(version, op, pending.client_id, pending.seq, pending.user, now)
            committed.append(entry)
            accepted.append(pending)
        return accepted, committed, text

    async def _duplicate_version(
        self, doc: Document, pending: PendingSubmit, batch: list[CommittedOp]
    ) -> int | None:
        """The version at which this (client, seq) already committed, or None if it is new."""
        client, seq = pending.client_id, pending.seq
        last = doc.last_seqs.get(client)
        if last is None:
            last = await self._store.last_seq(doc.id, client)
            doc.last_seqs[client] = last
        for entry in batch:
            if entry.client_id == client:
                last = max(last, entry.seq)
                if entry.seq == seq:
                    return entry.version
        if seq > last:
            return None
        version = doc.committed_version(client, seq)
        if version is None:
            version = await self._store.committed_seq(doc.id, client, seq)
        if version is None:
            raise ProtocolError(
                ErrorCode.SEQ_OUT_OF_ORDER,
                f"seq {seq} is not above {last}, the last seq committed by this client, and was "
                f"never committed: number new submissions from {last + 1}",
            )
        return version

    async def _rebase(
        self, doc: Document, pending: PendingSubmit, batch: list[CommittedOp], length: int
    ) -> TextOperation:
        head = doc.version + len(batch)
        if pending.base_version > head:
            raise self._future_version(doc, pending.base_version, head)
        since = [c.op for c in await self._ops_since(doc, pending.base_version)]
        # only the batch's ops after the base: a base inside the batch has seen the ones before
        since.extend(c.op for c in batch if c.version > pending.base_version)
        base_length = length - sum(op.length_delta for op in since)
        if pending.op.base_length > base_length:
            raise ProtocolError(
                ErrorCode.OP_MISMATCH,
                f"op reads {pending.op.base_length} characters but the document has "
                f"{base_length} at version {pending.base_version}; rebuild the op against the "
                "document's text and resubmit",
            )
        return transform_against(pending.op, since)

    async def _pull_remote(self, doc: Document) -> None:
        try:
            await self._catch_up(doc)
        except StorageError as exc:
            # the next notice, or the next local commit losing its version race, pulls again
            log.warning("pulling remote commits of %r failed: %s", doc.id, exc)

    async def _catch_up(self, doc: Document) -> None:
        """Apply and broadcast the ops another process committed since this one's head."""
        ops = await self._store.ops_since(doc.id, doc.version)
        if not ops:
            return
        text = doc.text
        for entry in ops:
            text = entry.op.apply(text)
        doc.advance(text, ops)
        for entry in ops:
            self._broadcast(doc, _encode(_op_message(doc.id, entry)), skip=None)

    def _publish(
        self,
        doc: Document,
        accepted: list[PendingSubmit],
        committed: list[CommittedOp],
        append_started: float,
    ) -> None:
        durable = time.perf_counter()
        for pending, entry in zip(accepted, committed, strict=True):
            self._broadcast(doc, _encode(_op_message(doc.id, entry)), skip=pending.origin)
            self._settle(doc, pending, entry.version, duplicate=False)
        self._report_commit(doc, accepted, committed, append_started, durable)

    def _report_commit(
        self,
        doc: Document,
        accepted: list[PendingSubmit],
        committed: list[CommittedOp],
        append_started: float,
        durable: float,
    ) -> None:
        """One report per batch to the observer, and a probe for the time to consistency."""
        queued = time.perf_counter()
        pairs = zip(accepted, committed, strict=True)
        report = CommitReport(
            behind=[entry.version - 1 - pending.base_version for pending, entry in pairs],
            waited=[queued - pending.received for pending in accepted],
            commit_seconds=durable - append_started,
            fanout_seconds=queued - durable,
            subscribers=len(doc.subscribers),
        )
        self._observer.committed(report)
        probe_consistency(doc.subscribers, durable, self._observer.consistent)

    def _settle(
        self, doc: Document, pending: PendingSubmit, version: int, *, duplicate: bool
    ) -> None:
        if pending.origin is not None:
            ack: dict[str, Any] = {"type": "ack", "doc": doc.id, "version": version}
            ack["seq"] = pending.seq
            if duplicate:
                ack["duplicate"] = True
            pending.origin.deliver(_encode(ack))
        doc.inflight.pop((pending.client_id, pending.seq), None)
        if not pending.future.done():
            pending.future.set_result((version, duplicate))

    def _reject(self, doc: Document, pending: PendingSubmit, error: ProtocolError) -> None:
        self._observer.rejected(error.code)
        doc.inflight.pop((pending.client_id, pending.seq), None)
        if not pending.future.done():
            pending.future.set_exception(
                ProtocolError(error.code, error.message, doc=doc.id, seq=pending.seq, **error.extra)
            )

    def _broadcast(self, doc: Document, message: bytes, *, skip: Subscriber | None) -> None:
        for subscriber in doc.subscribers:
            if subscriber is not skip:
                subscriber.deliver(message)

    def _maybe_snapshot(self, doc: Document) -> None:
        if doc.snapshotting or doc.version - doc.snapshot_version < self._settings.snapshot_every:
            return
        doc.snapshotting = True
        self._spawn(self._save_snapshot(doc, Snapshot(doc.text, doc.version)))

    async def _save_snapshot(self, doc: Document, snapshot: Snapshot) -> None:
        try:
            await self._store.save_snapshot(doc.id, snapshot)
            doc.snapshot_version = snapshot.version
        except StorageError:
            log.warning("snapshot of %r at version %d failed", doc.id, snapshot.version)
        finally:
            doc.snapshotting = False

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _future_version(
        self, doc: Document, version: int, head: int | None = None
    ) -> ProtocolError:
        head = doc.version if head is None else head
        return ProtocolError(
            ErrorCode.VERSION_FROM_FUTURE,
            f"version {version} is newer than {doc.id!r}, which is at version {head}",
            doc=doc.id,
            version=head,
        )


def _unavailable(exc: Exception, doc_id: str) -> ProtocolError:
    log.error("storage failed for document %r: %s", doc_id, exc)
    return ProtocolError(
        ErrorCode.UNAVAILABLE,
        "storage is unavailable; nothing was committed, retry later",
        doc=doc_id,
    )


def _op_entry(entry: CommittedOp) -> dict[str, Any]:
    return {
        "version": entry.version,
        "op": entry.op.to_json(),
        "client": entry.client_id,
        "seq": entry.seq,
        "user": entry.user,
    }


def _op_message(doc_id: str, entry: CommittedOp) -> dict[str, Any]:
    return {"type": "op", "doc": doc_id, **_op_entry(entry)}


def _encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)
