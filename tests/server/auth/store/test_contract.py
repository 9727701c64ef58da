"""What every ``AuthStore`` adapter must do."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from server.auth.acl import AccessList, Resource, Role
from server.auth.events import AuditEntry
from server.auth.store import AclChange, AuthStore
from server.auth.store.postgres import PostgresAuthStore
from tests.services import POSTGRES_DSN, drop_schema, new_schema

DOC = Resource.doc("notes")
ALICE_OWNS = AccessList(users={"alice": Role.OWNER})


class Refused(Exception):
    """What a change function raises to refuse (e.g. the caller may not manage the list)."""


async def test_an_object_without_a_list_has_none(auth_store: AuthStore) -> None:
    assert await auth_store.get_acl(DOC) is None


async def test_update_creates_changes_and_leaves_lists(auth_store: AuthStore) -> None:
    assert await auth_store.update_acl(DOC, lambda current: current or ALICE_OWNS) == ALICE_OWNS
    assert await auth_store.update_acl(DOC, lambda current: None) == ALICE_OWNS
    shared = ALICE_OWNS.patched({"groups": {"staff": "viewer"}})
    assert await auth_store.update_acl(DOC, lambda current: shared) == shared
    assert await auth_store.get_acl(DOC) == shared
    # documents and collections of the same name have lists of their own
    assert await auth_store.get_acl(Resource.collection("notes")) is None


async def test_a_change_that_raises_writes_nothing(auth_store: AuthStore) -> None:
    await auth_store.update_acl(DOC, lambda current: ALICE_OWNS)

    def refuse(current: AccessList | None) -> AccessList:
        raise Refused

    with pytest.raises(Refused):
        await auth_store.update_acl(DOC, refuse)
    assert await auth_store.get_acl(DOC) == ALICE_OWNS


async def test_concurrent_creators_agree_on_one_list(auth_store: AuthStore) -> None:
    lists = [AccessList(users={f"user{n}": Role.OWNER}) for n in range(10)]

    def create(acl: AccessList) -> AclChange:
        return lambda current: current or acl

    results = await asyncio.gather(*(auth_store.update_acl(DOC, create(acl)) for acl in lists))
    stored = await auth_store.get_acl(DOC)
    assert stored in lists
    assert all(result == stored for result in results)


async def test_a_client_id_is_bound_to_its_first_user(auth_store: AuthStore) -> None:
    assert await auth_store.bind_client("notes", "c1", "alice") == "alice"
    assert await auth_store.bind_client("notes", "c1", "bob") == "alice"
    assert await auth_store.bind_client("notes", "c1", "alice") == "alice"
    assert await auth_store.bind_client("other", "c1", "bob") == "bob"  # per document


async def test_audit_entries_keep_their_order_and_paginate(auth_store: AuthStore) -> None:
    entries = [
        AuditEntry("op.committed", 1000.0 + n, "alice", "10.0.0.1", DOC, {"version": n})
        for n in range(1, 8)
    ]
    other = AuditEntry("auth.failed", 2000.0, None, "10.0.0.9", None, {"code": "unauthorized"})
    await auth_store.append_audit(entries[:3])
    await auth_store.append_audit([other, *entries[3:]])
    first = await auth_store.read_audit(DOC, 0, 4)
    assert [e.detail["version"] for e in first] == [1, 2, 3, 4]
    assert first[0].id is not None and first[0].remote == "10.0.0.1"
    assert first[0].resource == DOC and first[0].time == 1001.0
    rest = await auth_store.read_audit(DOC, first[-1].id or 0, 10)
    assert [e.detail["version"] for e in rest] == [5, 6, 7]
    everything = await auth_store.read_audit(None, 0, 100)
    assert [e.kind for e in everything][3] == "auth.failed"
    ids = [e.id or 0 for e in everything]
    assert ids == sorted(ids) and len(set(ids)) == 8


async def test_pruning_drops_the_oldest_entries_but_never_the_newest(
    auth_store: AuthStore,
) -> None:
    entries = [
        AuditEntry("op.committed", 1000.0 + n, "alice", None, DOC, {"n": n}) for n in range(6)
    ]
    await auth_store.append_audit(entries)
    assert await auth_store.prune_audit(before=1003.0, limit=2) == 2  # a chunk at a time
    assert await auth_store.prune_audit(before=1003.0, limit=2) == 1
    assert await auth_store.prune_audit(before=1003.0, limit=2) == 0
    kept = await auth_store.read_audit(None, 0, 100)
    assert [e.detail["n"] for e in kept] == [3, 4, 5]
    assert await auth_store.prune_audit(before=9999.0, limit=100) == 2  # all but the newest
    (newest,) = await auth_store.read_audit(None, 0, 100)
    assert newest.detail["n"] == 5
    await auth_store.append_audit([entries[0]])
    after = await auth_store.read_audit(None, newest.id or 0, 100)
    assert len(after) == 1 and (after[0].id or 0) > (newest.id or 0)  # ids still increase


@pytest.mark.postgres
async def test_postgres_audit_batches_commit_in_id_order() -> None:
    """A batch waits for another process's batch to commit before it draws ids, so a reader's
    cursor can never pass an id that commits later."""
    schema = await new_schema()
    first, second = (PostgresAuthStore(POSTGRES_DSN, schema=schema) for _ in range(2))
    await first.open()
    await second.open()
    blocker = await asyncpg.connect(POSTGRES_DSN)
    try:
        entry = AuditEntry("doc.opened", 1.0, "alice", None, DOC, {})
        async with blocker.transaction():  # a batch of another process, not yet committed
            await blocker.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"{schema}.auth_audit append"
            )
            pending = asyncio.create_task(first.append_audit([entry]))
            done, _ = await asyncio.wait({pending}, timeout=0.5)
            assert not done, "an audit batch drew its ids while another batch was uncommitted"
        async with asyncio.timeout(10):
            await pending
        await second.append_audit([entry])
        ids = [e.id or 0 for e in await second.read_audit(None, 0, 10)]
        assert ids == sorted(ids) and len(ids) == 2
    finally:
        await blocker.close()
        await first.close()
        await second.close()
        await drop_schema(schema)
