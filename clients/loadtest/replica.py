"""One document as one simulated editor sees it: the real client state machine (``ot.Client``),
the local text, and the intended send times of the edits not yet acknowledged.
"""

from __future__ import annotations

from typing import Any

from ot import Client, Submission, TextOperation


class Replica:
    """A document replica. ``text`` always equals the server's text at ``client.version`` with
    the unacknowledged local edits applied on top."""

    __slots__ = ("_buffered", "_inflight", "broken", "client", "doc_id", "text")

    def __init__(self, doc_id: str, text: str, version: int) -> None:
        self.doc_id = doc_id
        self.text = text
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
        self.text = op.apply(self.text)
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

    def remote(self, op: list[Any]) -> None:
        """Apply an op another client committed at ``version + 1``."""
        local = self.client.apply_server(TextOperation.from_json(op))
        self.text = local.apply(self.text)


def submit_message(doc_id: str, submission: Submission) -> dict[str, Any]:
    """The protocol v1 ``submit`` message for a submission."""
    return {
        "type": "submit",
        "doc": doc_id,
        "version": submission.base_version,
        "seq": submission.seq,
        "op": submission.op.to_json(),
    }
