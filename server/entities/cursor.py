"""Changes-feed cursors and the plan of one pull. Pure.

A cursor is opaque to clients. Inside it holds:

- ``seq``: every change with a sequence number up to ``seq`` in the cursor's collections has been
  delivered. Sequence numbers are assigned by the server at commit, in commit order (see
  ``store``), never from a client clock.
- ``collections``: the collections the client was syncing and allowed to read when the cursor
  was issued. Comparing them with what it may read now tells a pull which collections to remove
  (access lost or no longer requested) and which to deliver from the start (access gained or
  newly requested), however old their records are.
- ``backfill``: collections being delivered from the start, each with the sequence number it
  reached; their records up to ``seq`` are paged out before the feed moves past ``seq``.
- ``epoch``: the store's identity, so a cursor of another (or a restored) database is refused.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from server.entities.errors import Code, EntityError

_VERSION = 1
MAX_CURSOR_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the changes feed (see the module docstring)."""

    epoch: str
    seq: int
    collections: frozenset[str]
    backfill: tuple[tuple[str, int], ...] = ()

    def encode(self) -> str:
        """The opaque string form handed to clients."""
        value = [_VERSION, self.epoch, self.seq, sorted(self.collections), list(self.backfill)]
        return base64.urlsafe_b64encode(orjson.dumps(value)).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a client's cursor; ``invalid_cursor`` for anything this server did not issue."""
        try:
            if len(text) > MAX_CURSOR_CHARS:
                raise ValueError("too long")
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            version, epoch, seq, collections, backfill = orjson.loads(raw)
            cursor = cls(
                _str(epoch),
                _seq(seq),
                frozenset(_str(c) for c in collections),
                tuple((_str(c), _seq(s)) for c, s in backfill),
            )
            if version != _VERSION:
                raise ValueError(f"cursor format {version}")
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise EntityError(
                Code.INVALID_CURSOR,
                f"cursor {text[:80]!r} is not one this server issued; pass the next_cursor of "
                "a previous answer, or no cursor for a full sync",
            ) from None
        return cursor


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _seq(value: object) -> int:
    if type(value) is not int or value < 0:
        raise TypeError("expected a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class PullPlan:
    """What one pull must do before reading the feed after ``cursor.seq``.

    ``removed``: collections whose local copies the client must drop (sent first);
    ``backfill``: collections to deliver from the start, up to ``cursor.seq``, in this order.
    """

    cursor: Cursor
    removed: tuple[str, ...]
    backfill: tuple[tuple[str, int], ...]

    @property
    def collections(self) -> frozenset[str]:
        """The collections this pull syncs."""
        return self.cursor.collections


def plan_pull(cursor: Cursor | None, epoch: str, syncing: Iterable[str]) -> PullPlan:
    """Compare the cursor with the collections the client syncs now (requested and readable).

    Without a cursor the pull starts at sequence 0, which already covers every record.
    """
    now = frozenset(syncing)
    if cursor is None or cursor.seq == 0:
        return PullPlan(Cursor(epoch, 0, now), (), ())
    if cursor.epoch != epoch:
        raise expired("the cursor belongs to another database")
    removed = tuple(sorted(cursor.collections - now))
    gained = sorted(now - cursor.collections)
    backfill = tuple((c, s) for c, s in cursor.backfill if c in now)
    backfill += tuple((c, 0) for c in gained if all(c != b for b, _ in backfill))
    return PullPlan(Cursor(epoch, cursor.seq, now, backfill), removed, backfill)


def expired(why: str) -> EntityError:
    """The 410 answer that tells a client to drop its local copy and pull from the start."""
    return EntityError(
        Code.CURSOR_EXPIRED,
        f"{why}: changes it would need are no longer kept. Drop the local copies of these "
        "collections and pull again without a cursor (full resync)",
        resync=True,
    )
