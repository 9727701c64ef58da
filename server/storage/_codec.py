"""What the SQL adapters share: ops encoded as orjson wire form, and validation of an append call.

No I/O here; ``sqlite`` and ``postgres`` turn these rows into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ot import TextOperation
from server.storage.base import CommittedOp, Snapshot

OpRow = tuple[str, int, str, str, int, str | None, float]
"""One row of the ``ops`` table: doc_id, version, op (JSON text), client_id, seq, user, time."""


def encode_op(op: TextOperation) -> str:
    """The op's wire form as JSON text, e.g. ``[5,"hi",-3]`` (orjson escapes NUL as ``\\u0000``)."""
    return orjson.dumps(op.to_json()).decode()


def decode_op(
    version: int, op: str, client_id: str, seq: int, user: str | None, time: float
) -> CommittedOp:
    """Rebuild a committed op from the columns of its row."""
    return CommittedOp(
        version, TextOperation.from_json(orjson.loads(op)), client_id, seq, user, time
    )


@dataclass(frozen=True, slots=True)
class AppendCall:
    """One validated ``append`` call, rows already encoded: the unit a group commit batches."""

    doc_id: str
    rows: list[OpRow]

    @property
    def first_version(self) -> int:
        """The version of the first op: the call wins only if the log's head is one below it."""
        return self.rows[0][1]

    @property
    def last_version(self) -> int:
        """The document's head version once this call committed."""
        return self.rows[-1][1]


def prepare_append(doc_id: str, ops: Sequence[CommittedOp]) -> AppendCall:
    """Validate an append call and encode its ops; ``ValueError`` says what is wrong with it.

    Raised here, in the caller's task, so a malformed call never reaches a shared batch.
    """
    if not ops:
        raise ValueError(f"append to {doc_id!r} got no ops; pass at least one")
    first = ops[0].version
    if first < 1:
        raise ValueError(f"append to {doc_id!r}: op versions start at 1, got {first}")
    for index, op in enumerate(ops):
        if op.version != first + index:
            raise ValueError(
                f"append to {doc_id!r}: ops must have consecutive versions; op {index} has "
                f"version {op.version}, expected {first + index}"
            )
    rows = [
        (doc_id, op.version, encode_op(op.op), op.client_id, op.seq, op.user, op.time) for op in ops
    ]
    return AppendCall(doc_id, rows)


def check_limit(limit: int | None) -> None:
    """Reject a negative ``ops_since`` limit (None means no limit)."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be None or a non-negative int, got {limit}")


def check_snapshot(doc_id: str, snapshot: Snapshot, head: int | None) -> None:
    """Refuse a snapshot of an unknown document, or one ahead of the durable op log.

    A snapshot ahead of the log would make the document look further along than its durable
    history; the next append would leave a gap.
    """
    if head is None:
        raise ValueError(f"cannot save a snapshot of unknown document {doc_id!r}; create it first")
    if not 0 <= snapshot.version <= head:
        raise ValueError(
            f"snapshot of {doc_id!r} at version {snapshot.version} is outside the op log "
            f"(0..{head}); save only versions whose ops were appended"
        )
