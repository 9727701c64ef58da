"""The storage interface of the entities API and the values that cross it.

Change sequence: every committed change of a record gets the next number of one store-wide
sequence, and a record row keeps only the number of its latest change (the feed keeps only the
latest state). Each adapter must guarantee that **sequence order is commit order**: once a
reader can see number N, every number below N is committed and visible too, or was never used.
A feed that pages by "numbers above my cursor" then never skips a change. How each adapter
guarantees it is explained in its module docstring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from server.entities.config import Collection
from server.entities.model import Record, Response, Write


@dataclass(frozen=True, slots=True)
class WriteCall:
    """One write with what the store needs to decide it: its collection and its user."""

    write: Write
    collection: Collection
    user: str | None

    @property
    def scope(self) -> str:
        """The idempotency-key scope: keys of different users never meet."""
        return self.user or ""


@dataclass(frozen=True, slots=True)
class WriteUnit:
    """Writes applied in order, each atomically; with ``atomic`` all of them or none."""

    calls: tuple[WriteCall, ...]
    atomic: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one write: its answer, whether it replayed a stored answer, whether it
    changed a record (at feed position ``seq``), and how many conflicts a policy resolved."""

    response: Response
    replayed: bool = False
    committed: bool = False
    conflicts: int = 0
    seq: int = 0
    collection: str = ""


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A stored idempotency key: the request it was first used for and that request's answer."""

    scope: str
    key: str
    fingerprint: str
    response: Response
    expires_at: float


@dataclass(frozen=True, slots=True)
class Removal:
    """A feed entry telling a user to drop a record it can no longer read."""

    collection: str
    id: str
    seq: int

    def to_json(self) -> dict[str, object]:
        """The wire form."""
        return {"collection": self.collection, "id": self.id, "removed": True}


@dataclass(frozen=True, slots=True)
class FeedRange:
    """Part of a pull: changes in ``collections`` with ``after < seq <= upto``.

    A backfill range (``upto`` set) delivers live records only; the live range (``upto`` None)
    delivers records, tombstones and removals.
    """

    collections: tuple[str, ...]
    after: int
    upto: int | None = None


@dataclass(frozen=True, slots=True)
class FeedRead:
    """What one consistent read of the feed returned.

    ``rows[i]`` holds range ``i``'s rows in sequence order; all ranges together hold at most
    ``limit + 1`` rows (the extra one tells that more follow). ``head`` is the highest sequence
    number committed at the moment of the read, ``purged`` the highest one whose tombstone or
    removal was dropped by retention.
    """

    epoch: str
    head: int
    purged: int
    rows: list[list[Record | Removal]]


class EntityStore(Protocol):
    """Durable records, their change sequence and the idempotency keys of writes."""

    @property
    def epoch(self) -> str:
        """A random identity fixed when the database was created (after ``open``)."""

    async def open(self) -> None:
        """Connect and create the schema if it is missing."""

    async def close(self) -> None:
        """Finish queued writes and release connections."""

    async def write(self, unit: WriteUnit) -> list[Outcome]:
        """Decide and commit a unit of writes (group-committed with concurrent units); one
        outcome per call, in order. Every decision and its idempotency key commit together."""

    async def get(self, collection: str, record_id: str) -> Record | None:
        """The record's latest state (a tombstone if deleted), or None if never written."""

    async def list_records(
        self, collection: str, *, after_id: str, limit: int, user: str | None
    ) -> list[Record]:
        """Live records readable by ``user`` with ``id > after_id``, by id, at most ``limit``."""

    async def read_feed(self, ranges: list[FeedRange], *, user: str | None, limit: int) -> FeedRead:
        """Read the ranges in order, in one snapshot, up to ``limit + 1`` rows in all."""

    async def purge(self, *, tombstones_before: float, keys_before: float) -> int:
        """Drop tombstones and removals older than the first time and idempotency keys that
        expired before the second; returns how many rows went."""
