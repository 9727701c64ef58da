"""``DocState``: everything a replica must keep to resume one document after a restart. Pure.

It is what the outbox persists and what ``DocumentSync`` is rebuilt from: the last version the
replica knows and the server's text at it, the submission numbering, the op in flight and the
buffered local edits. Local text = buffer(inflight(text)).
"""

from __future__ import annotations

from dataclasses import dataclass

from ot import AwaitingConfirm, AwaitingWithBuffer, Client, Submission, TextOperation


@dataclass(frozen=True, slots=True)
class DocState:
    """One document's resumable client state.

    ``inflight`` is the submitted, unacknowledged op with its seq; its ``base_version`` is always
    ``version``, because the in-flight op is rebased past every remote op as it arrives.
    ``buffer`` holds later local edits, composed, applying to the text after ``inflight``.
    """

    doc: str
    version: int
    text: str
    last_seq: int = 0
    inflight: Submission | None = None
    buffer: TextOperation | None = None

    def __post_init__(self) -> None:
        if self.inflight is None and self.buffer is not None:
            raise ValueError("a buffer without an op in flight")
        if self.inflight is not None:
            if self.inflight.base_version != self.version:
                raise ValueError("the op in flight must apply to the known version")
            if self.inflight.seq > self.last_seq:
                raise ValueError("the op in flight has a seq above the last one issued")

    @property
    def local_text(self) -> str:
        """The text the replica shows: the known text with the pending local edits applied."""
        text = self.text
        if self.inflight is not None:
            text = self.inflight.op.apply(text)
        if self.buffer is not None:
            text = self.buffer.apply(text)
        return text


def state_of(doc: str, client: Client, text: str) -> DocState:
    """Capture ``client`` (an ``ot.Client``) whose server text at ``client.version`` is ``text``."""
    state = client.state
    inflight = None
    buffer = None
    if isinstance(state, AwaitingConfirm | AwaitingWithBuffer):
        seq = client.outstanding_seq
        if seq is None:
            raise ValueError("the client has an op in flight without a seq")
        inflight = Submission(seq, client.version, state.outstanding)
    if isinstance(state, AwaitingWithBuffer):
        buffer = state.buffer
    return DocState(doc, client.version, text, client.last_seq, inflight, buffer)


def client_of(state: DocState) -> Client:
    """Rebuild the ``ot.Client`` a ``DocState`` was captured from.

    Replays the pending edits through the public state machine: the in-flight op is re-issued
    with its original seq (``last_seq`` is set one below it), the buffer is composed after it.
    """
    if state.inflight is None:
        return Client(state.version, last_seq=state.last_seq)
    client = Client(state.version, last_seq=state.inflight.seq - 1)
    client.apply_client(state.inflight.op)
    if state.buffer is not None:
        client.apply_client(state.buffer)
    client.last_seq = state.last_seq
    return client
