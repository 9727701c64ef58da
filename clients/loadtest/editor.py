"""One simulated client: a WebSocket speaking protocol v1, with a replica per open document.

The reader applies what the server sends (acks, remote ops, errors) to the replicas and records
latencies. In closed loop it makes the next edit as soon as an ack leaves a replica with nothing
in flight; in open loop a workload schedules edits and calls ``edit`` itself.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from clients.loadtest.edits import EditMaker
from clients.loadtest.replica import Replica, SeenOps, submit_message
from clients.loadtest.stats import PartStats, RunClock
from clients.loadtest.target import Target
from ot import OTError, Submission, TextOperation

HANDSHAKE_TIMEOUT = 30.0


class EditorError(Exception):
    """The server refused or dropped a connection while it was being set up."""


@dataclass(slots=True)
class EditGate:
    """Whether the editors of one process may still edit: until stopped or out of budget."""

    open: bool = True
    budget: int | None = None  # edits left, None for no limit
    exhausted: asyncio.Event = field(default_factory=asyncio.Event)  # the budget is spent

    def take(self) -> bool:
        """Use up one edit of the budget; False once stopped or spent."""
        if not self.open:
            return False
        if self.budget is None:
            return True
        if self.budget <= 0:
            self._spent()
            return False
        self.budget -= 1
        if self.budget == 0:
            self._spent()
        return True

    def _spent(self) -> None:
        self.open = False
        self.exhausted.set()


@dataclass(frozen=True, slots=True)
class Context:
    """What every editor of one process shares."""

    http: aiohttp.ClientSession
    target: Target
    stats: PartStats
    clock: RunClock
    gate: EditGate
    edits: EditMaker
    seen: SeenOps
    presence: bool = False  # send the cursor after every edit, as an editor's widget would


class Editor:
    """One connection. ``closed_loop`` editors edit again right after each ack."""

    def __init__(
        self,
        client_id: str,
        context: Context,
        *,
        closed_loop: bool = False,
        keep_text: bool = True,
    ) -> None:
        self.client_id = client_id
        self.replicas: dict[str, Replica] = {}
        self.closed_loop = closed_loop
        self.keep_text = keep_text  # False: lean replicas (length only; see ``Replica``)
        self.changed = asyncio.Event()  # set after every frame: a replica may have moved
        self._context = context
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._replies: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}
        self._outgoing: list[bytes] = []
        self._resuming: dict[str, Replica | None] = {}  # documents being opened
        self._closing = False

    # -- setting up ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the socket and say hello; returns once welcomed. What was queued while
        disconnected is dropped: a resumed replica resubmits its op itself (see ``open``)."""
        self._outgoing.clear()
        self._closing = False
        self._ws = await self._context.http.ws_connect(
            self._context.target.ws_url, autoping=True, max_msg_size=0
        )
        self._reader = asyncio.create_task(self._read())
        self._context.stats.connected += 1
        await self._request(
            "welcome", "", {"type": "hello", "protocol": 1, "client": self.client_id}
        )

    async def open(self, doc_id: str, replica: Replica | None = None) -> Replica:
        """Open a document: a new replica from its text, or ``replica`` resumed from its version
        (the ops missed meanwhile are applied, own ones as acks)."""
        message: dict[str, Any] = {"type": "open", "doc": doc_id}
        if replica is not None:
            message["version"] = replica.version
        self._resuming[doc_id] = replica
        await self._request("opened", doc_id, message)
        await self.flush()  # a resumed replica's resubmission
        return self.replicas[doc_id]

    async def close(self) -> None:
        """Close the socket (the replicas stay, for a later resume)."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._ws is not None:
            self._context.stats.connected -= 1
            self._ws = None

    # -- editing ------------------------------------------------------------------------------

    def edit(self, replica: Replica, intended: float) -> None:
        """Make one edit intended at ``intended`` (perf_counter) and queue what is to be sent."""
        context = self._context
        op = context.edits.edit(replica.length, context.clock.micros(intended))
        context.stats.edits += 1
        submission = replica.edit(op, intended)
        if submission is not None:
            self._submit(replica, submission)
        if context.presence:
            self._send_cursor(replica, op)

    async def flush(self) -> None:
        """Send everything queued, as one frame."""
        if not self._outgoing or self._ws is None or self._ws.closed:
            self._outgoing.clear()
            return
        batch, self._outgoing = self._outgoing, []
        frame = batch[0] if len(batch) == 1 else b"[" + b",".join(batch) + b"]"
        try:
            await self._ws.send_frame(frame, aiohttp.WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            self._context.stats.errors["send_failed"] += 1

    def start_closed_loop(self) -> None:
        """Closed loop: make the first edit of every replica (the next come with the acks)."""
        now = time.perf_counter()
        for replica in self.replicas.values():
            if not replica.pending and self._context.gate.take():
                self.edit(replica, now)

    # -- receiving ----------------------------------------------------------------------------

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._on_frame(message.data)
                    if self._outgoing:
                        await self.flush()
                    self.changed.set()
        finally:
            self._on_closed()

    def _on_frame(self, data: str) -> None:
        decoded = orjson.loads(data)
        received_us: float | None = None  # every op of the frame arrived now: read it once
        for message in decoded if isinstance(decoded, list) else (decoded,):
            kind = message.get("type")
            if kind == "op":
                if received_us is None:
                    received_us = self._context.clock.now_micros()
                self._on_op(message, received_us)
            elif kind == "ack":
                self._on_ack(message)
            elif kind == "presence":
                if message.get("cursor") is not None:  # not a departure
                    self._context.stats.count("presence_received")
            elif kind == "error":
                self._on_error(message)
            else:
                self._on_reply(kind, message)

    def _on_op(self, message: dict[str, Any], received_us: float) -> None:
        replica = self.replicas.get(message["doc"])
        if replica is None or replica.broken:
            return
        version = message["version"]
        if version != replica.version + 1:
            self._break(replica, "version_gap")
            return
        wire = message["op"]
        try:
            seen = self._context.seen.committed(replica.doc_id, version, wire)
            replica.remote(wire, seen.op)
        except (OTError, TypeError):  # TypeError: an op that is not even a list
            self._break(replica, "remote_op_invalid")
            return
        stats = self._context.stats
        stats.received += 1
        micros = seen.micros
        if micros is not None and stats.window_start_us <= micros < stats.window_end_us:
            stats.broadcast.record((received_us - micros) / 1e6)

    def _on_ack(self, message: dict[str, Any]) -> None:
        replica = self.replicas.get(message["doc"])
        if replica is None or replica.broken:
            return
        if message["version"] != replica.version + 1 or message.get("duplicate"):
            self._break(replica, "unexpected_ack")
            return
        now = time.perf_counter()
        intended, submission = replica.ack()
        stats = self._context.stats
        stats.acks_total += 1
        if stats.in_window(now):
            stats.acked += 1
            stats.acked_edits += len(intended)
        for started in intended:
            if stats.in_window(started):
                stats.ack.record(now - started)
        if submission is not None:
            self._submit(replica, submission)
        elif self.closed_loop and self._context.gate.take():
            self.edit(replica, now)

    def _on_error(self, message: dict[str, Any]) -> None:
        self._context.stats.errors[str(message.get("code"))] += 1
        doc = message.get("doc")
        if isinstance(doc, str):
            future = self._replies.pop(("opened", doc), None)
            if future is not None and not future.done():
                future.set_exception(EditorError(f"open {doc}: {message.get('message')}"))
            replica = self.replicas.get(doc)
            if replica is not None and message.get("seq") is not None:
                replica.broken = str(message.get("code"))

    def _on_reply(self, kind: Any, message: dict[str, Any]) -> None:
        if kind == "opened":
            self._on_opened(message)
        key = (str(kind), str(message.get("doc", "")))
        future = self._replies.pop(key, None)
        if future is not None and not future.done():
            future.set_result(message)

    def _on_opened(self, message: dict[str, Any]) -> None:
        """Make or resume the replica here, in the reader, before the ops that follow."""
        doc = message["doc"]
        replica = self._resuming.pop(doc, None)
        if replica is None:
            replica = Replica(doc, message["text"], message["version"], keep_text=self.keep_text)
        else:
            self._resume(replica, message["ops"])
        self.replicas[doc] = replica
        if replica.version != message["version"]:
            self._break(replica, "resume_gap")

    def _on_closed(self) -> None:
        ws = self._ws
        if not self._closing:
            code = ws.close_code if ws is not None else None
            self._context.stats.errors[f"closed_{code}"] += 1
            for replica in self.replicas.values():
                replica.broken = replica.broken or "connection_closed"
        for future in self._replies.values():
            if not future.done():
                future.set_exception(EditorError("the server closed the connection"))
        self._replies.clear()
        self.changed.set()

    # -- helpers ------------------------------------------------------------------------------

    async def _request(self, reply: str, doc: str, message: dict[str, Any]) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[reply, doc] = future
        self._queue(message)
        await self.flush()
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            return await future

    def _resume(self, replica: Replica, ops: list[dict[str, Any]]) -> None:
        """Catch a reopened replica up: the missed ops, own ones (by client and seq) as acks."""
        outstanding = replica.client.outstanding_seq
        for entry in ops:
            if entry["client"] == self.client_id and entry["seq"] == outstanding:
                replica.ack()
                outstanding = None
            elif entry["client"] != self.client_id:
                replica.remote(entry["op"])
        resubmission = replica.client.resubmission()
        if resubmission is not None:
            self._submit(replica, resubmission)

    def _send_cursor(self, replica: Replica, op: TextOperation) -> None:
        """Send the caret where the edit was made, named against the last version this replica
        knows (the server rebases it; one of the replica's own ops still unacknowledged may put
        it off by a few characters, which the server clamps)."""
        region = op.region  # an edit changes one stretch: its position is the caret
        caret = min(region[0] if region is not None else 0, replica.length)
        message = {"type": "presence", "doc": replica.doc_id, "version": replica.version}
        self._queue({**message, "cursor": [caret, caret]})
        self._context.stats.count("presence_sent")

    def _submit(self, replica: Replica, submission: Submission) -> None:
        self._context.stats.submitted += 1
        self._queue(submit_message(replica.doc_id, submission))

    def _queue(self, message: dict[str, Any]) -> None:
        self._outgoing.append(orjson.dumps(message))

    def _break(self, replica: Replica, reason: str) -> None:
        replica.broken = reason
        self._context.stats.errors[reason] += 1
