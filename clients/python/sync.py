"""One document's client protocol, sans I/O: feed it server messages and local edits; take the
messages to send, the events for the application and the state to persist.

Depends on ``ot`` and this package's pure modules only — no asyncio, no sockets, no SQLite — so
its tests drive it with plain messages. ``ot.Client`` is the state machine (one op in flight,
later edits composed in a buffer); this class adds the protocol around it: open with the known
version, catch up, recognise its own ops by client and seq, resubmit, resync, presence.

Lifecycle on each connection::

    CLOSED ──connected()──▶ OPENING ──opened──▶ OPEN
                               │  ▲
      resync_required ─────────┘  └── reopen without version; PROBING while the op in flight
                                      is resubmitted to learn whether it was committed
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from clients.python.errors import ServerError, SyncError
from clients.python.events import Cursor, Event, PresenceChange, Rejected, RemoteChange
from clients.python.presence import PresenceMap
from clients.python.resync import merge
from clients.python.state import DocState, client_of, state_of
from ot import (
    AwaitingConfirm,
    AwaitingWithBuffer,
    Client,
    OTError,
    Submission,
    TextOperation,
    transform,
    transform_selection,
)

Message = dict[str, Any]

RETRYABLE = frozenset({"unavailable", "rate_limited", "internal_error"})
RESYNC = frozenset({"resync_required", "version_from_future"})


class Phase(Enum):
    CLOSED = "closed"  # not open on the current connection (or no connection)
    OPENING = "opening"  # open sent, waiting for opened
    PROBING = "probing"  # resyncing: waiting to learn if the op in flight was committed
    OPEN = "open"


@dataclass(slots=True)
class _Resync:
    """The server's text while a resync waits for its probe; live ops advance it."""

    text: str
    version: int
    probe_seq: int | None = None


class DocumentSync:
    """The protocol state of one document on one replica."""

    def __init__(self, doc_id: str, client_id: str, state: DocState | None = None) -> None:
        self.doc_id = doc_id
        self.client_id = client_id
        self.phase = Phase.CLOSED
        self.failure: ServerError | None = None  # why the document could not be opened
        self.wants_retry = False  # the op in flight hit a retryable error: call retry() later
        self._client: Client | None = None
        self._text = ""  # the server's text at self._client.version
        self._local = ""  # the text shown locally: _text with the pending ops applied
        if state is not None:
            self._client = client_of(state)
            self._text = state.text
            self._local = state.local_text
        self._presence = PresenceMap()
        self._cursor: Cursor | None = None
        self._info: dict[str, Any] | None = None
        self._announce = False  # our presence must be (re)sent once open
        self._resync: _Resync | None = None
        self._reopen_without_version = False
        self._outgoing: list[Message] = []
        self._events: list[Event] = []
        self._dirty = False

    # -- queries ------------------------------------------------------------------------------

    @property
    def has_text(self) -> bool:
        """Whether the replica knows the document (it was opened once, now or before a restart)."""
        return self._client is not None

    @property
    def text(self) -> str:
        """The local text: the server's text as far as known, with the local edits applied."""
        return self._local

    @property
    def version(self) -> int:
        """The last server version this replica has applied (``-1`` before the first open)."""
        return self._client.version if self._client is not None else -1

    @property
    def pending_count(self) -> int:
        """Unacknowledged local ops: 0, 1 (in flight) or 2 (in flight and a buffer)."""
        return self._client.pending_count if self._client is not None else 0

    @property
    def presence(self) -> dict[str, PresenceChange]:
        """The other clients' cursors, in local text coordinates."""
        return self._presence.snapshot()

    def state(self) -> DocState:
        """Everything needed to resume this document after a restart."""
        return state_of(self.doc_id, self._require_client(), self._text)

    # -- what to do ---------------------------------------------------------------------------

    def messages_to_send(self) -> list[Message]:
        """The messages queued for the server since the last call, in order."""
        out, self._outgoing = self._outgoing, []
        return out

    def events_received(self) -> list[Event]:
        """The application events produced since the last call, in order."""
        out, self._events = self._events, []
        return out

    def state_to_save(self) -> DocState | None:
        """The state to persist if it changed since the last call (save it before sending)."""
        if not self._dirty or self._client is None:
            return None
        self._dirty = False
        return self.state()

    # -- inputs -------------------------------------------------------------------------------

    def connected(self) -> None:
        """A connection is up: open the document, from the known version if there is one."""
        self.phase = Phase.OPENING
        self.failure = None
        self._resync = None
        self._reopen_without_version = self._client is None
        self._send_open()

    def disconnected(self) -> None:
        """The connection is gone: nothing is open any more, nobody else's cursor is known."""
        self.phase = Phase.CLOSED
        self.wants_retry = False
        self._resync = None
        self._events.extend(self._presence.clear())

    def close_message(self) -> Message:
        """The message that closes the document on the server."""
        return {"type": "close", "doc": self.doc_id}

    def edit(self, op: TextOperation) -> None:
        """Apply a local edit now and submit it (or keep it for when the connection returns)."""
        client = self._require_client()
        self._local = op.apply(self._local)  # raises before any state changes if op misfits
        submission = client.apply_client(op)
        self._dirty = True
        self._presence.transform(op, self.client_id)
        if self._cursor is not None:
            self._cursor = transform_selection(self._cursor, op, own=True)
        if submission is not None and self.phase is Phase.OPEN:
            self._send_submit(submission)

    def set_presence(self, cursor: Cursor | None, info: dict[str, Any] | None = None) -> None:
        """Announce our cursor or selection in local coordinates (``None`` clears it)."""
        self._cursor, self._info, self._announce = cursor, info, True
        if self.phase is Phase.OPEN:
            self._send_presence()

    def retry(self) -> None:
        """Resubmit the op in flight, with its seq, after a retryable error."""
        self.wants_retry = False
        if self.phase is Phase.OPEN and self._client is not None:
            submission = self._client.resubmission()
            if submission is not None:
                self._send_submit(submission)

    def receive(self, message: Message) -> None:
        """Handle one server message for this document.

        Raises ``SyncError`` when the message contradicts the replica (a version gap): the caller
        should drop the connection, and the reconnect reopens from the last consistent state.
        """
        handler = {
            "opened": self._on_opened,
            "op": self._on_op,
            "ack": self._on_ack,
            "presence": self._on_presence,
            "error": self._on_error,
        }.get(message.get("type", ""))
        if handler is None:
            return
        try:
            handler(message)
        except (KeyError, TypeError, ValueError, IndexError, OTError) as exc:
            raise SyncError(f"document {self.doc_id!r}: bad {message.get('type')}: {exc}") from exc

    # -- handlers -----------------------------------------------------------------------------

    def _on_opened(self, message: Message) -> None:
        if self.phase is not Phase.OPENING:
            raise SyncError(f"document {self.doc_id!r} opened while {self.phase.value}")
        version = int(message["version"])
        if "text" in message:
            self._opened_with_text(str(message["text"]), version)
        else:
            for entry in message["ops"]:
                self._committed(entry)
            if self.version != version:
                raise SyncError(f"catch-up ended at {self.version}, the server is at {version}")
        if self.phase is Phase.OPENING:
            self._become_open()
        for presence in message.get("presence") or []:
            self._on_presence(presence)

    def _opened_with_text(self, text: str, version: int) -> None:
        if self._client is None:
            self._client = Client(version)
            self._text = self._local = text
            self._dirty = True
            return
        self._resync = _Resync(text, version)
        client = self._client
        submission = client.resubmission()
        if submission is None:
            self._finish_resync(committed=False)
            return
        # Was the op in flight committed before the history was lost? Resubmitting it with its
        # seq tells: a duplicate ack or seq_out_of_order if it was; an error about its base
        # (resync_required, version_from_future) if it was not.
        self.phase = Phase.PROBING
        self._resync.probe_seq = submission.seq
        self._send_submit(submission)

    def _on_op(self, message: Message) -> None:
        if self.phase is Phase.PROBING and self._resync is not None:
            self._advance_resync(message)
        elif self.phase in (Phase.OPEN, Phase.OPENING):
            self._committed(message)

    def _on_ack(self, message: Message) -> None:
        seq = int(message["seq"])
        resync = self._resync
        if self.phase is Phase.PROBING and resync is not None and seq == resync.probe_seq:
            if not message.get("duplicate"):
                raise SyncError(f"document {self.doc_id!r}: a resync probe was committed anew")
            self._finish_resync(committed=True)
            return
        client = self._require_client()
        if seq != client.outstanding_seq:
            return  # a duplicate ack of an op already recognised in the op stream
        if int(message["version"]) != client.version + 1:
            expected = client.version + 1
            raise SyncError(f"ack of seq {seq} at {message['version']}, expected {expected}")
        self._acknowledge()

    def _on_presence(self, message: Message) -> None:
        if message.get("client") == self.client_id or self.phase is not Phase.OPEN:
            return
        pending = self._pending_op()
        self._events.append(self._presence.receive(message, pending, len(self._local)))

    def _on_error(self, message: Message) -> None:
        code, seq = str(message.get("code")), message.get("seq")
        resync = self._resync
        if self.phase is Phase.PROBING and resync is not None and seq == resync.probe_seq:
            # seq_out_of_order: the server has committed this seq or a later one of ours; we
            # never send a later one before this one is acknowledged, so this one it is.
            self._finish_resync(committed=code == "seq_out_of_order")
        elif self.phase is Phase.OPENING and seq is None:
            self._open_failed(message)
        elif seq is not None and self._client is not None and seq == self._client.outstanding_seq:
            self._submission_failed(message)
        elif code in RESYNC and seq is None:
            self._start_resync()

    # -- steps --------------------------------------------------------------------------------

    def _committed(self, entry: Message) -> None:
        """An op the server committed at ``entry['version']``: ours (an ack) or someone else's."""
        client = self._require_client()
        version = int(entry["version"])
        if version <= client.version:
            return
        if version != client.version + 1:
            raise SyncError(f"document {self.doc_id!r} skipped from {client.version} to {version}")
        if entry.get("client") == self.client_id and entry.get("seq") == client.outstanding_seq:
            self._acknowledge()  # our own op: its ack was lost with the previous connection
            return
        op = TextOperation.from_json(entry["op"])
        self._text = op.apply(self._text)
        local = client.apply_server(op)
        self._apply_local(local, entry.get("client"))
        self._events.append(
            RemoteChange(local, self._local, client.version, entry.get("client"), entry.get("user"))
        )

    def _acknowledge(self) -> None:
        client = self._require_client()
        state = client.state
        if not isinstance(state, AwaitingConfirm | AwaitingWithBuffer):
            raise SyncError(f"document {self.doc_id!r}: an ack with nothing in flight")
        self._text = state.outstanding.apply(self._text)
        submission = client.server_ack()
        self._dirty = True
        if submission is not None and self.phase is Phase.OPEN:
            self._send_submit(submission)

    def _become_open(self) -> None:
        self.phase = Phase.OPEN
        client = self._require_client()
        submission = client.resubmission()  # the op in flight, with its seq, rebased to now
        if submission is not None:
            self._send_submit(submission)
        if self._announce:
            self._send_presence()

    def _open_failed(self, message: Message) -> None:
        if str(message.get("code")) in RESYNC and self._client is not None:
            self._start_resync()
            return
        self.phase = Phase.CLOSED
        self.failure = ServerError.from_message(message)

    def _submission_failed(self, message: Message) -> None:
        code = str(message.get("code"))
        if code in RETRYABLE:
            self.wants_retry = True
        elif code in RESYNC or code == "seq_out_of_order":
            self._start_resync()  # seq_out_of_order: it was committed, we missed it (see probe)
        else:
            self._reject(code, str(message.get("message", "")))

    def _start_resync(self) -> None:
        self.phase = Phase.OPENING
        self._reopen_without_version = True
        self._send_open()

    def _advance_resync(self, entry: Message) -> None:
        resync = self._resync
        assert resync is not None
        if int(entry["version"]) != resync.version + 1:
            raise SyncError(f"document {self.doc_id!r}: a gap while resyncing")
        resync.text = TextOperation.from_json(entry["op"]).apply(resync.text)
        resync.version += 1

    def _finish_resync(self, *, committed: bool) -> None:
        """Rebase the pending local edits onto the resent text (see ``clients.python.resync``)."""
        resync, client = self._resync, self._require_client()
        assert resync is not None
        state = client.state
        base_text, pending = self._text, self._pending_op()
        if committed and isinstance(state, AwaitingConfirm | AwaitingWithBuffer):
            base_text = state.outstanding.apply(self._text)
            pending = state.buffer if isinstance(state, AwaitingWithBuffer) else None
        result = merge(base_text, pending, resync.text)
        self._client = Client(resync.version, last_seq=client.last_seq)
        self._text = resync.text
        if not result.pending.is_noop:
            self._client.apply_client(result.pending)
        self._apply_local(result.local_change, None)
        self._resync = None
        self._dirty = True
        if not result.local_change.is_noop:
            self._events.append(
                RemoteChange(result.local_change, self._local, resync.version, None, None)
            )
        self._become_open()

    def _reject(self, code: str, text: str) -> None:
        """Undo the op in flight that the server refused; the buffer survives, rebased."""
        client = self._require_client()
        state = client.state
        assert isinstance(state, AwaitingConfirm | AwaitingWithBuffer)
        undo = state.outstanding.invert(self._text)  # applies to the text after the op
        buffer = state.buffer if isinstance(state, AwaitingWithBuffer) else None
        local_undo = undo
        self._client = Client(client.version, last_seq=client.last_seq)
        if buffer is not None:
            buffer, local_undo = transform(buffer, undo)
            submission = self._client.apply_client(buffer)
            if submission is not None and self.phase is Phase.OPEN:
                self._send_submit(submission)
        self._apply_local(local_undo, self.client_id)
        self._dirty = True
        self._events.append(Rejected(code, text, local_undo, self._local))

    def _apply_local(self, op: TextOperation, author: str | None) -> None:
        self._local = op.apply(self._local)
        self._presence.transform(op, author)
        if self._cursor is not None:
            self._cursor = transform_selection(self._cursor, op, own=author == self.client_id)

    # -- outgoing -----------------------------------------------------------------------------

    def _send_open(self) -> None:
        message: Message = {"type": "open", "doc": self.doc_id}
        if not self._reopen_without_version and self._client is not None:
            message["version"] = self._client.version
        self._outgoing.append(message)

    def _send_submit(self, submission: Submission) -> None:
        self._outgoing.append(
            {
                "type": "submit",
                "doc": self.doc_id,
                "version": submission.base_version,
                "seq": submission.seq,
                "op": submission.op.to_json(),
            }
        )

    def _send_presence(self) -> None:
        """Send our cursor, mapped from local coordinates to the server text at our version."""
        cursor = self._cursor
        pending = self._pending_op()
        if cursor is not None and pending is not None:
            cursor = transform_selection(cursor, pending.invert(self._text))
        message: Message = {
            "type": "presence",
            "doc": self.doc_id,
            "version": self.version,
            "cursor": list(cursor) if cursor is not None else None,
        }
        if self._info is not None:
            message["info"] = self._info
        self._outgoing.append(message)

    # -- helpers ------------------------------------------------------------------------------

    def _pending_op(self) -> TextOperation | None:
        """The unacknowledged local edits as one op on the server text, if any."""
        state = self._client.state if self._client is not None else None
        if isinstance(state, AwaitingWithBuffer):
            return state.outstanding.compose(state.buffer)
        if isinstance(state, AwaitingConfirm):
            return state.outstanding
        return None

    def _require_client(self) -> Client:
        if self._client is None:
            raise SyncError(f"document {self.doc_id!r} has not been opened yet")
        return self._client
