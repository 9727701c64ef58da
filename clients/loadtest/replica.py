"""One document as one simulated editor sees it: the real client state machine (``ot.Client``),
the local text (or only its length), and the intended send times of the edits not yet
acknowledged.

A *lean* replica keeps only the document's length. It still runs every remote op through
``Client.apply_server`` (the transform past its op in flight and its buffer, exactly as a full
replica does) and applies the rebased op's ``length_delta``, and it makes its edits at random
positions within that length. What it skips is building a 10 KB string per remote op, which is
what a real editor's text widget does and what a load generator need not repeat on every one of
its connections. A few full replicas per run keep the text for the end-of-run comparison with
the server's; a lean one must match the server's version and length.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from clients.loadtest.edits import op_micros
from ot import Client, InvalidOperation, Submission, TextOperation


class Replica:
    """A document replica. ``length`` (and ``text``, when kept) always equal the server's text at
    ``client.version`` with the unacknowledged local edits applied on top."""

    __slots__ = ("_buffered", "_inflight", "broken", "client", "doc_id", "length", "text")

    def __init__(self, doc_id: str, text: str, version: int, *, keep_text: bool = True) -> None:
        self.doc_id = doc_id
        self.text: str | None = text if keep_text else None  # None: a lean replica
        self.length = len(text)
        self.client = Client(version)
        self.broken: str | None = None  # why this replica can no longer converge
        self._inflight: list[float] = []  # intended times of the edits in the op in flight
        self._buffered: list[float] = []  # ... and of those composed into the buffer

    @property
    def version(self) -> int:
        return self.client.version

    @property
    def pending(self) -> int:
        """Unacknowledged ops: 0, 1 (in flight) or 2 (in flight and buffered)."""
        return self.client.pending_count

    def edit(self, op: TextOperation, intended: float) -> Submission | None:
        """Apply a local edit made at ``intended``; returns the submission to send now, if any."""
        if self.text is not None:
            self.text = op.apply(self.text)
        self.length += op.length_delta
        submission = self.client.apply_client(op)
        (self._inflight if submission is not None else self._buffered).append(intended)
        return submission

    def ack(self) -> tuple[list[float], Submission | None]:
        """The op in flight committed: the intended times of its edits, and the next submission
        (the buffer), if any."""
        submission = self.client.server_ack()
        acked, self._inflight = self._inflight, self._buffered if submission is not None else []
        self._buffered = []
        return acked, submission

    def remote(self, wire: list[Any], trusted: TextOperation | None = None) -> None:
        """Apply an op another client committed at ``version + 1``.

        A full replica parses its wire form with every check (``from_json``) and applies it to
        its text. A lean one trusts the server's normal form: it takes ``trusted``, the same op
        parsed once per process (``SeenOps``), or parses ``wire`` without checks, and checks
        instead that the rebased op fits its length, as ``apply`` would.
        """
        if self.text is not None:
            local = self.client.apply_server(TextOperation.from_json(wire))
            self.text = local.apply(self.text)
            self.length = len(self.text)
            return
        if trusted is None:
            trusted = TextOperation.from_normal_json(wire)
        local = self.client.apply_server(trusted)
        if local.base_length > self.length:
            raise InvalidOperation(
                f"a remote op reads {local.base_length} characters of {self.length}"
            )
        self.length += local.length_delta


class SeenOp(NamedTuple):
    """A committed op as received: parsed from the server's normal form, and the intended send
    time (µs) its timestamp token carries, if any."""

    op: TextOperation
    micros: int | None


class SeenOps:
    """The remote ops one load process has received, each parsed once: every editor of a
    document receives the same op at each version, so its normal form and its timestamp token
    need not be read again on each of the editor's connections. Bounded: it forgets everything
    once it holds ``limit`` ops (a late editor then parses its op again)."""

    __slots__ = ("_ops", "limit")

    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        self._ops: dict[tuple[str, int], SeenOp] = {}

    def committed(self, doc_id: str, version: int, wire: list[Any]) -> SeenOp:
        """The op committed at ``version``, from its wire form (the server's normal form)."""
        key = (doc_id, version)
        seen = self._ops.get(key)
        if seen is None:
            if len(self._ops) >= self.limit:
                self._ops.clear()
            seen = self._ops[key] = SeenOp(TextOperation.from_normal_json(wire), op_micros(wire))
        return seen


def submit_message(doc_id: str, submission: Submission) -> dict[str, Any]:
    """The protocol v1 ``submit`` message for a submission."""
    return {
        "type": "submit",
        "doc": doc_id,
        "version": submission.base_version,
        "seq": submission.seq,
        "op": submission.op.to_json(),
    }
