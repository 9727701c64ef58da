"""Assemble one page of the changes feed from a consistent store read. Pure.

A pull first sends removals of collections the client stopped syncing, then pages out the
backfill of collections it started syncing (records up to the cursor), then the changes after the
cursor. The next cursor records how far each part got, so applying pages in order, and applying
any page twice, leaves the client with the server's latest state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.entities.cursor import Cursor, PullPlan, expired
from server.entities.model import Record
from server.entities.store.base import FeedRange, FeedRead, Removal


@dataclass(frozen=True, slots=True)
class Page:
    """One answer of ``GET /v1/changes``."""

    changes: list[dict[str, Any]]
    next_cursor: Cursor
    has_more: bool
    oldest_change: float | None  # updated_at of the oldest record sent (for the lag metric)

    def to_json(self) -> dict[str, Any]:
        """The response body."""
        return {
            "changes": self.changes,
            "next_cursor": self.next_cursor.encode(),
            "has_more": self.has_more,
        }


def feed_ranges(plan: PullPlan) -> list[FeedRange]:
    """What to read for ``plan``: each backfill, then the live feed after the cursor."""
    seq = plan.cursor.seq
    ranges = [FeedRange((name,), after, seq) for name, after in plan.backfill]
    if plan.collections:
        ranges.append(FeedRange(tuple(sorted(plan.collections)), seq))
    return ranges


def assemble(
    plan: PullPlan, read: FeedRead, *, limit: int, client: str | None, omit_own: bool
) -> Page:
    """The page for ``plan`` from ``read`` (which holds up to ``limit + 1`` rows)."""
    cursor = plan.cursor
    if cursor.seq and cursor.seq < read.purged:
        raise expired("the cursor is older than the tombstone retention")
    if cursor.seq > read.head:
        raise expired("the cursor is ahead of this database (was it restored from a backup?)")
    changes: list[dict[str, Any]] = [{"collection": c, "removed": True} for c in plan.removed]
    taken: list[Record | Removal] = []
    backfill = list(plan.backfill)
    seq = cursor.seq
    has_more = False
    for index, rows in enumerate(read.rows):
        room = limit - len(taken)
        live = index == len(plan.backfill)
        if len(rows) > room:  # this part is not finished: stop after what fits
            taken.extend(rows[:room])
            if room and live:
                seq = rows[room - 1].seq
            elif room:
                backfill[0] = (backfill[0][0], rows[room - 1].seq)
            has_more = True
            break
        taken.extend(rows)
        if live:
            seq = read.head
        else:
            backfill.pop(0)
    next_cursor = Cursor(cursor.epoch, seq, cursor.collections, tuple(backfill))
    records = [r for r in taken if isinstance(r, Record)]
    oldest = min((r.updated_at for r in records), default=None)
    changes.extend(_entries(taken, client, omit_own))
    return Page(changes, next_cursor, has_more, oldest)


def _entries(
    rows: list[Record | Removal], client: str | None, omit_own: bool
) -> list[dict[str, Any]]:
    entries = []
    for row in rows:
        if isinstance(row, Removal):
            entries.append(row.to_json())
            continue
        own = client is not None and row.client == client
        if own and omit_own:
            continue
        entry = row.to_json()
        if own:
            entry["own"] = True
        entries.append(entry)
    return entries
