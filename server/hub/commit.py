"""The commit pipeline: each open document's queued submissions are rebased to the head, applied,
appended durably as one batch, then acknowledged and broadcast — in version order.

One loop per document keeps its commits strictly ordered; the loops of different documents run
concurrently and the store group-commits their appends. A batch that loses a version race to
another server process pulls the ops it missed, rebases and retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from ot import TextOperation, transform_against
from server.config import HubSettings, Limits
from server.fanout import FanOut
from server.hub.document import Document, PendingSubmit
from server.hub.history import History, broadcast, future_version, op_message, unavailable
from server.hub.loading import read_document
from server.hub.observer import CommitReport, HubObserver, probe_consistency
from server.protocol.errors import ErrorCode, ProtocolError
from server.storage import CommittedOp, DocumentStore, Snapshot, StorageError

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], None]


class CommitPipeline:
    """Runs the commit loops of a hub's documents."""

    def __init__(
        self,
        store: DocumentStore,
        history: History,
        fanout: FanOut,
        settings: HubSettings,
        limits: Limits,
        observer: HubObserver,
        *,
        clock: Callable[[], float],
        spawn: Spawn,
    ) -> None:
        self._store = store
        self._history = history
        self._fanout = fanout
        self._settings = settings
        self._limits = limits
        self._observer = observer
        self._clock = clock
        self._spawn = spawn

    def run(self, doc: Document) -> None:
        """Make sure the document's loop runs: it drains ``pending`` and pulls remote commits."""
        if not doc.committing:
            doc.committing = True
            self._spawn(self._loop(doc))

    async def _loop(self, doc: Document) -> None:
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
            error = unavailable(exc, doc.id)
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
                "never committed or its op is no longer kept: number new submissions from "
                f"{last + 1}",
            )
        return version

    async def _rebase(
        self, doc: Document, pending: PendingSubmit, batch: list[CommittedOp], length: int
    ) -> TextOperation:
        head = doc.version + len(batch)
        if pending.base_version > head:
            raise future_version(doc, pending.base_version, head)
        since = [c.op for c in await self._history.since(doc, pending.base_version)]
        # only the batch's ops after the base: a base inside the batch has seen the ones before
        since.extend(c.op for c in batch if c.version > pending.base_version)
        base_length = doc.length_at(pending.base_version)
        if base_length is None:  # the base is in this batch, or older than memory
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
        if not doc.extend_stored(ops):
            await self._reload(doc)
            return
        for entry in ops:
            broadcast(doc, op_message(doc.id, entry), skip=None)

    async def _reload(self, doc: Document) -> None:
        """The ops right after this process's head are gone from storage: another process
        committed them and compacted them away (``--keep-ops``). Take the stored state instead,
        and tell every subscriber to reopen the document, since what it missed cannot be sent."""
        stored = await read_document(
            self._store, doc.id, self._settings.history_limit, create=False
        )
        if stored is None:
            raise StorageError(f"document {doc.id!r} is no longer in storage")
        log.warning(
            "document %r: the ops after version %d were compacted by another process before "
            "this one read them; reloaded at version %d, its clients resync",
            doc.id, doc.version, stored.version,
        )  # fmt: skip
        doc.take_state(stored)
        error = ProtocolError(
            ErrorCode.RESYNC_REQUIRED,
            f"the ops of {doc.id!r} this connection missed are no longer kept: reopen the "
            "document without a version and rebase local edits on its text",
            doc=doc.id,
            version=doc.version,
        )
        message = orjson.dumps(error.to_message())
        for subscriber in doc.subscribers:
            subscriber.deliver(message)
            self._observer.resync_required()

    def _publish(
        self,
        doc: Document,
        accepted: list[PendingSubmit],
        committed: list[CommittedOp],
        append_started: float,
    ) -> None:
        durable = time.perf_counter()
        for pending, entry in zip(accepted, committed, strict=True):
            # The ack first: sockets are written in the order their first message of the turn
            # was queued, so the submitter does not wait behind a large room's broadcast.
            self._settle(doc, pending, entry.version, duplicate=False)
            broadcast(doc, op_message(doc.id, entry), skip=pending.origin)
        self._report(doc, accepted, committed, append_started, durable)

    def _report(
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
        """Acknowledge a submission: an ``ack`` to its origin, the version to its future."""
        if pending.origin is not None:
            ack: dict[str, Any] = {"type": "ack", "doc": doc.id, "version": version}
            ack["seq"] = pending.seq
            if duplicate:
                ack["duplicate"] = True
            pending.origin.deliver(orjson.dumps(ack))
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

    def _maybe_snapshot(self, doc: Document) -> None:
        if doc.snapshotting or doc.version - doc.snapshot_version < self._settings.snapshot_every:
            return
        doc.snapshotting = True
        self._spawn(self._save_snapshot(doc, Snapshot(doc.text, doc.version)))

    async def _save_snapshot(self, doc: Document, snapshot: Snapshot) -> None:
        keep = self._settings.keep_ops
        compact_to = snapshot.version - keep if keep and snapshot.version > keep else None
        try:
            await self._store.save_snapshot(doc.id, snapshot, compact_to=compact_to)
            doc.snapshot_version = snapshot.version
        except StorageError:
            log.warning("snapshot of %r at version %d failed", doc.id, snapshot.version)
        finally:
            doc.snapshotting = False
