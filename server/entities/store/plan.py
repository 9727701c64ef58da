"""The write planner shared by every adapter: given the records and idempotency keys a group of
units touches, as read inside the write transaction, decide every write. Pure.

An adapter (1) reads the rows ``touched_rows`` names, (2) calls ``plan_group``, (3) draws
``len(plan.changes)`` sequence numbers and (4) writes ``plan.rows(first_seq)``, all in one
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from server.entities.decide import decide
from server.entities.errors import Code, EntityError
from server.entities.model import Record, Response
from server.entities.store.base import KeyRow, Outcome, WriteCall, WriteUnit

RecordKey = tuple[str, str]  # (collection, id)
KeyId = tuple[str, str]  # (scope, idempotency key)


@dataclass(slots=True)
class Change:
    """A committed record state, who lost access through it, and whose outcome it answers."""

    record: Record
    lost_access: str | None
    unit: int
    call: int


@dataclass(slots=True)
class GroupPlan:
    """Every outcome (sequence numbers still 0), the record changes and the keys to store."""

    outcomes: list[list[Outcome]]
    changes: list[Change] = field(default_factory=list)
    keys: list[KeyRow] = field(default_factory=list)

    def numbered(self, first_seq: int) -> tuple[list[Record], list[tuple[Record, str]]]:
        """Number the changes from ``first_seq``: the final rows (one per record, its latest
        change) and the removals ``(record, lost_by)``. Fills the outcomes' ``seq``."""
        latest: dict[RecordKey, Record] = {}
        removals: list[tuple[Record, str]] = []
        for offset, change in enumerate(self.changes):
            record = replace(change.record, seq=first_seq + offset)
            latest[(record.collection, record.id)] = record
            if change.lost_access is not None:
                removals.append((record, change.lost_access))
            outcome = self.outcomes[change.unit][change.call]
            self.outcomes[change.unit][change.call] = replace(outcome, seq=record.seq)
        return list(latest.values()), removals


def touched_rows(units: list[WriteUnit]) -> tuple[set[RecordKey], set[KeyId]]:
    """The records and idempotency keys the units read."""
    records: set[RecordKey] = set()
    keys: set[KeyId] = set()
    for unit in units:
        for call in unit.calls:
            records.add((call.write.collection, call.write.id))
            if call.write.key is not None:
                keys.add((call.scope, call.write.key))
    return records, keys


def plan_group(
    units: list[WriteUnit],
    records: Mapping[RecordKey, Record],
    keys: Mapping[KeyId, KeyRow],
    *,
    now: float,
    key_ttl: float,
) -> GroupPlan:
    """Decide every write of every unit, in order; later writes see earlier ones' effects."""
    state = _State(dict(records), {k: v for k, v in keys.items() if v.expires_at > now})
    plan = GroupPlan([])
    for index, unit in enumerate(units):
        # Only an all-or-nothing unit works on a copy it may throw away.
        trial = state.fork() if unit.atomic else state
        outcomes: list[Outcome] = []
        for call in unit.calls:
            outcomes.append(trial.apply(call, index, len(outcomes), now, key_ttl))
        if unit.atomic and not all(o.response.ok for o in outcomes):
            outcomes = [o if o.replayed or not o.response.ok else _aborted(o) for o in outcomes]
        else:
            state = trial
        plan.outcomes.append(outcomes)
    plan.changes, plan.keys = state.changes, state.keys
    return plan


@dataclass(slots=True)
class _State:
    records: dict[RecordKey, Record]
    key_rows: dict[KeyId, KeyRow]
    changes: list[Change] = field(default_factory=list)
    keys: list[KeyRow] = field(default_factory=list)

    def fork(self) -> _State:
        return _State(dict(self.records), dict(self.key_rows), list(self.changes), list(self.keys))

    def apply(self, call: WriteCall, unit: int, index: int, now: float, ttl: float) -> Outcome:
        write = call.write
        collection = write.collection
        if write.key is not None:
            stored = self.key_rows.get((call.scope, write.key))
            if stored is not None:
                return _replay(stored, write.fingerprint(), collection)
        current = self.records.get((collection, write.id))
        decision = decide(write, call.collection, current, call.user, now)
        if decision.record is not None:
            self.records[(collection, write.id)] = decision.record
            self.changes.append(Change(decision.record, decision.lost_access, unit, index))
        if write.key is not None:
            row = KeyRow(call.scope, write.key, write.fingerprint(), decision.response, now + ttl)
            self.key_rows[(call.scope, write.key)] = row
            self.keys.append(row)
        return Outcome(
            decision.response,
            committed=decision.record is not None,
            conflicts=decision.conflicts,
            collection=collection,
        )


def _replay(stored: KeyRow, fingerprint: str, collection: str) -> Outcome:
    if stored.fingerprint != fingerprint:
        error = EntityError(
            Code.IDEMPOTENCY_KEY_REUSED,
            f"idempotency key {stored.key!r} was already used for a different request; use a "
            "new key for a new request",
        )
        return Outcome(Response(error.status, error.to_body()), collection=collection)
    return Outcome(stored.response, replayed=True, collection=collection)


def _aborted(outcome: Outcome) -> Outcome:
    error = EntityError(
        Code.ABORTED,
        "not applied: another write of this all-or-nothing batch failed; fix it and resend all",
    )
    return Outcome(Response(error.status, error.to_body()), collection=outcome.collection)
