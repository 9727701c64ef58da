"""The client side of OT: the ot.js state machine, plus the version and sequence bookkeeping of
protocol v1. Pure: it says what to send and what to apply; the caller moves the messages.

A client has at most one op in flight (``outstanding``) and composes later local edits into a
``buffer`` until the server acknowledges it::

    Synchronized ──local edit──▶ AwaitingConfirm ──local edit──▶ AwaitingWithBuffer
         ▲                            │    ▲                          │
         └────────────ack─────────────┘    └───────────ack────────────┘ (buffer is sent)

Remote ops are rebased past the in-flight and buffered ops; the server rebases the client's op
past the remote ones with the client's op on the left, so both sides break ties the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from ot.operation import TextOperation
from ot.transform import transform


@dataclass(frozen=True, slots=True)
class Synchronized:
    """Nothing is in flight: the client's text equals the server's at ``Client.version``."""

    def apply_client(self, op: TextOperation) -> tuple[ClientState, TextOperation | None]:
        return AwaitingConfirm(op), op

    def apply_server(self, op: TextOperation) -> tuple[ClientState, TextOperation]:
        return self, op

    def server_ack(self) -> tuple[ClientState, TextOperation | None]:
        raise RuntimeError("an ack arrived while no operation was in flight")


@dataclass(frozen=True, slots=True)
class AwaitingConfirm:
    """One op is in flight, waiting for its ack."""

    outstanding: TextOperation

    def apply_client(self, op: TextOperation) -> tuple[ClientState, TextOperation | None]:
        return AwaitingWithBuffer(self.outstanding, op), None

    def apply_server(self, op: TextOperation) -> tuple[ClientState, TextOperation]:
        outstanding, remote = transform(self.outstanding, op)
        if outstanding is self.outstanding:  # the remote op came after it: nothing moved
            return self, remote
        return AwaitingConfirm(outstanding), remote

    def server_ack(self) -> tuple[ClientState, TextOperation | None]:
        return Synchronized(), None


@dataclass(frozen=True, slots=True)
class AwaitingWithBuffer:
    """One op is in flight and later local edits wait, composed, in ``buffer``."""

    outstanding: TextOperation
    buffer: TextOperation

    def apply_client(self, op: TextOperation) -> tuple[ClientState, TextOperation | None]:
        return AwaitingWithBuffer(self.outstanding, self.buffer.compose(op)), None

    def apply_server(self, op: TextOperation) -> tuple[ClientState, TextOperation]:
        outstanding, remote = transform(self.outstanding, op)
        buffer, remote = transform(self.buffer, remote)
        return AwaitingWithBuffer(outstanding, buffer), remote

    def server_ack(self) -> tuple[ClientState, TextOperation | None]:
        return AwaitingConfirm(self.buffer), self.buffer


ClientState = Synchronized | AwaitingConfirm | AwaitingWithBuffer


@dataclass(frozen=True, slots=True)
class Submission:
    """An op to send: made against ``base_version``, numbered ``seq`` for exactly-once delivery."""

    seq: int
    base_version: int
    op: TextOperation


class Client:
    """One document's client state: the OT state machine, the version and submit numbering.

    ``seq`` numbers submissions 1, 2, 3... per client id; a resubmission after a reconnect reuses
    the seq of the op it repeats, so the server can tell it was already committed.
    """

    def __init__(self, version: int, *, last_seq: int = 0) -> None:
        self.version = version
        self.state: ClientState = Synchronized()
        self.last_seq = last_seq
        self._outstanding_seq: int | None = None

    @property
    def outstanding_seq(self) -> int | None:
        """The seq of the op in flight, if any."""
        return self._outstanding_seq

    @property
    def pending_count(self) -> int:
        """How many ops are not yet acknowledged: 0, 1 (in flight) or 2 (in flight + buffer)."""
        return {Synchronized: 0, AwaitingConfirm: 1, AwaitingWithBuffer: 2}[type(self.state)]

    def apply_client(self, op: TextOperation) -> Submission | None:
        """Record a local edit; returns the submission to send now, if any."""
        self.state, to_send = self.state.apply_client(op)
        return self._submission(to_send)

    def apply_server(self, op: TextOperation) -> TextOperation:
        """Take a remote op committed at ``version + 1``; returns the op to apply locally."""
        self.state, local = self.state.apply_server(op)
        self.version += 1
        return local

    def server_ack(self) -> Submission | None:
        """The in-flight op committed at ``version + 1``; returns the next submission, if any."""
        self.state, to_send = self.state.server_ack()
        self.version += 1
        self._outstanding_seq = None
        return self._submission(to_send)

    def resubmission(self) -> Submission | None:
        """After a reconnect and catch-up: the in-flight op again, with its original seq."""
        state = self.state
        if isinstance(state, Synchronized) or self._outstanding_seq is None:
            return None
        return Submission(self._outstanding_seq, self.version, state.outstanding)

    def _submission(self, op: TextOperation | None) -> Submission | None:
        if op is None:
            return None
        self.last_seq += 1
        self._outstanding_seq = self.last_seq
        return Submission(self.last_seq, self.version, op)
