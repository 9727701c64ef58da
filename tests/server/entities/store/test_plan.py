"""The pure write planner: units in one group see each other, atomic units vanish whole,
idempotency keys replay within and across groups."""

from __future__ import annotations

from server.entities.config import Collection
from server.entities.model import Kind, Write
from server.entities.store.base import KeyRow, WriteCall, WriteUnit
from server.entities.store.plan import plan_group

C = Collection("c")


def unit(*writes: Write, atomic: bool = False, user: str | None = None) -> WriteUnit:
    return WriteUnit(tuple(WriteCall(w, C, user) for w in writes), atomic)


def put(record_id: str, value: int, **kw: object) -> Write:
    return Write(Kind.PUT, "c", record_id, {"v": value}, **kw)  # type: ignore[arg-type]


def test_a_failed_atomic_unit_leaves_no_trace_between_others() -> None:
    plan = plan_group(
        [
            unit(put("a", 1)),
            unit(put("a", 2), put("b", 1, if_match=5), atomic=True),
            unit(put("a", 3, if_match=1)),
        ],
        {},
        {},
        now=10.0,
        key_ttl=60.0,
    )
    statuses = [[o.response.status for o in outcomes] for outcomes in plan.outcomes]
    assert statuses == [[201], [424, 412], [200]]  # the third saw version 1, not the atomic 2
    rows, removals = plan.numbered(first_seq=11)
    assert [(r.id, r.version, r.seq, r.data) for r in rows] == [("a", 2, 12, {"v": 3})]
    assert removals == []
    assert [o.seq for outcomes in plan.outcomes for o in outcomes] == [11, 0, 0, 12]


def test_a_key_replays_within_a_group_and_expired_keys_are_ignored() -> None:
    first = put("a", 1, key="k")
    plan = plan_group([unit(first), unit(first)], {}, {}, now=10.0, key_ttl=60.0)
    assert [o[0].replayed for o in plan.outcomes] == [False, True]
    assert len(plan.changes) == 1 and len(plan.keys) == 1
    stale = KeyRow("", "k", first.fingerprint(), plan.keys[0].response, expires_at=9.0)
    again = plan_group([unit(first)], {}, {("", "k"): stale}, now=10.0, key_ttl=60.0)
    assert again.outcomes[0][0].committed
