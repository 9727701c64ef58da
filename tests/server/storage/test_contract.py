"""The storage contract: what the hub may rely on, checked against every adapter alike.

Like sharedb's ``test/db.js``: one suite, run once per adapter (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio

import pytest

from ot import TextOperation
from server.storage import CommittedOp, DocumentStore, Snapshot, StorageError
from tests.server.storage.conftest import OpenStore, Store

TRICKY_TEXT = 'héllo 😀 👩‍👩‍👧 中文 \u0000 \u200b\n\t"quoted" \\ end'


def op_at(
    version: int,
    text: str = "x",
    *,
    client_id: str = "client-a",
    seq: int | None = None,
    user: str | None = "alice",
    time: float = 1_700_000_000.25,
) -> CommittedOp:
    """An op inserting ``text`` at the start, committed at ``version``."""
    return CommittedOp(
        version=version,
        op=TextOperation([text]),
        client_id=client_id,
        seq=version if seq is None else seq,
        user=user,
        time=time,
    )


async def append_range(store: Store, doc_id: str, first: int, last: int) -> None:
    """Append ops ``first..last`` (one call each) and insist they all won."""
    for version in range(first, last + 1):
        assert await store.append(doc_id, [op_at(version)])


def versions(ops: list[CommittedOp]) -> list[int]:
    """The versions of ``ops``, in order."""
    return [op.version for op in ops]


def test_adapters_satisfy_the_protocol(store: Store) -> None:
    checked: DocumentStore = store  # mypy checks the adapter against the Protocol here
    assert checked is store


# -- documents and snapshots --------------------------------------------------------------------


async def test_create_document_once_then_exists(store: Store) -> None:
    assert not await store.document_exists("doc")
    assert await store.create_document("doc")
    assert not await store.create_document("doc")
    assert await store.document_exists("doc")
    assert not await store.document_exists("other")


async def test_new_document_is_empty_at_version_0(store: Store) -> None:
    await store.create_document("doc")
    assert await store.load_snapshot("doc") == Snapshot(text="", version=0)
    assert await store.ops_since("doc", 0) == []
    assert await store.oldest_version("doc") == 0


async def test_unknown_document_reads_return_nothing(store: Store) -> None:
    assert await store.load_snapshot("nope") is None
    assert await store.ops_since("nope", 0) == []
    assert await store.oldest_version("nope") == 0
    assert await store.committed_seq("nope", "client-a", 1) is None
    assert await store.last_seq("nope", "client-a") == 0


async def test_newest_snapshot_wins(store: Store) -> None:
    await store.create_document("doc")
    await append_range(store, "doc", 1, 3)
    await store.save_snapshot("doc", Snapshot("xx", 2))
    await store.save_snapshot("doc", Snapshot("x", 1))  # older: ignored
    assert await store.load_snapshot("doc") == Snapshot("xx", 2)
    await store.save_snapshot("doc", Snapshot("xx", 2))  # repeated: idempotent
    await store.save_snapshot("doc", Snapshot("xxx", 3))
    assert await store.load_snapshot("doc") == Snapshot("xxx", 3)


async def test_snapshot_text_round_trips(store: Store) -> None:
    await store.create_document("doc")
    await store.append("doc", [op_at(1, TRICKY_TEXT)])
    await store.save_snapshot("doc", Snapshot(TRICKY_TEXT, 1))
    assert await store.load_snapshot("doc") == Snapshot(TRICKY_TEXT, 1)


async def test_snapshot_of_unknown_document_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown document"):
        await store.save_snapshot("nope", Snapshot("", 0))
    assert not await store.document_exists("nope")


async def test_snapshots_saved_together_are_each_kept_or_refused_on_their_own(
    store: Store,
) -> None:
    """Snapshots share transactions, but a refused one (unknown document, ahead of the log)
    neither fails nor blocks the others of its batch."""
    await append_range(store, "a", 1, 3)
    await append_range(store, "b", 1, 1)
    results = await asyncio.gather(
        store.save_snapshot("a", Snapshot("xxx", 3)),
        store.save_snapshot("missing", Snapshot("", 0)),
        store.save_snapshot("b", Snapshot("xxxxx", 5)),
        store.save_snapshot("b", Snapshot("x", 1)),
        return_exceptions=True,
    )
    assert results[0] is None and results[3] is None, results
    assert isinstance(results[1], ValueError) and isinstance(results[2], ValueError), results
    assert await store.load_snapshot("a") == Snapshot("xxx", 3)
    assert await store.load_snapshot("b") == Snapshot("x", 1)


async def test_a_burst_of_snapshots_does_not_hold_an_append_back(store: Store) -> None:
    """Every document reaching its snapshot interval at once queues many snapshots; an append
    queued behind them waits for one short transaction of them at most, not for all of them."""
    burst = 200
    names = [f"doc-{n}" for n in range(burst)]
    await asyncio.gather(*(store.append(name, [op_at(1)]) for name in names))
    await store.append("busy", [op_at(1)])
    snapshots = [
        asyncio.create_task(store.save_snapshot(name, Snapshot("x" * 10_000, 1))) for name in names
    ]
    assert await store.append("busy", [op_at(2)])
    saved_before_append = sum(task.done() for task in snapshots)
    await asyncio.gather(*snapshots)
    assert saved_before_append < burst // 4, saved_before_append
    assert all([await store.load_snapshot(name) == Snapshot("x" * 10_000, 1) for name in names])


async def test_snapshot_ahead_of_the_log_is_refused(store: Store) -> None:
    await store.create_document("doc")
    await append_range(store, "doc", 1, 2)
    with pytest.raises(ValueError, match="outside the op log"):
        await store.save_snapshot("doc", Snapshot("xxx", 3))
    assert await store.load_snapshot("doc") == Snapshot("", 0)


# -- append and ops_since -----------------------------------------------------------------------


async def test_ops_round_trip(store: Store) -> None:
    await store.create_document("doc")
    first = CommittedOp(1, TextOperation([TRICKY_TEXT]), "client-😀", 7, "ünïcode user", 1.5)
    second = CommittedOp(
        2, TextOperation([3, -2, "🎉", 4, "\u0000"]), "client-b", 1, None, 1_700_000_000.123456
    )
    assert await store.append("doc", [first, second])
    assert await store.ops_since("doc", 0) == [first, second]


async def test_ops_since_is_ascending_and_limited(store: Store) -> None:
    await store.create_document("doc")
    assert await store.append("doc", [op_at(1), op_at(2), op_at(3)])
    await append_range(store, "doc", 4, 10)
    assert versions(await store.ops_since("doc", 0)) == list(range(1, 11))
    assert versions(await store.ops_since("doc", 4)) == list(range(5, 11))
    assert versions(await store.ops_since("doc", 4, limit=3)) == [5, 6, 7]
    assert await store.ops_since("doc", 4, limit=0) == []
    assert await store.ops_since("doc", 10) == []
    assert await store.ops_since("doc", 99) == []


async def test_ops_since_rejects_negative_limit(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        await store.ops_since("doc", 0, limit=-1)


async def test_documents_have_separate_logs(store: Store) -> None:
    await append_range(store, "a", 1, 3)
    await append_range(store, "b", 1, 2)
    assert versions(await store.ops_since("a", 0)) == [1, 2, 3]
    assert versions(await store.ops_since("b", 0)) == [1, 2]


async def test_conflicting_append_returns_false_and_writes_nothing(store: Store) -> None:
    await store.create_document("doc")
    await append_range(store, "doc", 1, 3)
    before = await store.ops_since("doc", 0)
    stale = [op_at(3, "stale", client_id="late", seq=1), op_at(4, "stale", client_id="late", seq=2)]
    assert not await store.append("doc", stale)  # version 3 is taken
    assert not await store.append("doc", [op_at(5, client_id="late", seq=3)])  # gap after 3
    assert not await store.append("doc", [op_at(1, client_id="late", seq=4)])
    assert await store.ops_since("doc", 0) == before
    assert await store.last_seq("doc", "late") == 0
    assert await store.append("doc", [op_at(4)])  # the log still takes the next version


async def test_append_to_unknown_document_creates_it(store: Store) -> None:
    assert await store.append("new", [op_at(1), op_at(2)])
    assert await store.document_exists("new")
    assert await store.load_snapshot("new") == Snapshot("", 0)
    assert versions(await store.ops_since("new", 0)) == [1, 2]


async def test_append_past_version_1_to_unknown_document_creates_nothing(store: Store) -> None:
    assert not await store.append("new", [op_at(5)])
    assert not await store.document_exists("new")
    assert await store.load_snapshot("new") is None


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([], "no ops"),
        ([op_at(0)], "start at 1"),
        ([op_at(1), op_at(3)], "consecutive"),
        ([op_at(2), op_at(1)], "consecutive"),
    ],
)
async def test_malformed_append_is_refused(
    store: Store, ops: list[CommittedOp], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await store.append("doc", ops)
    assert not await store.document_exists("doc")


# -- concurrency and group commit ---------------------------------------------------------------


async def test_racing_appends_of_one_version_have_one_winner(store: Store) -> None:
    await store.create_document("doc")
    racers = [[op_at(1, client_id=f"c{i}", seq=1)] for i in range(30)]
    results = await asyncio.gather(*(store.append("doc", ops) for ops in racers))
    assert results.count(True) == 1
    (committed,) = await store.ops_since("doc", 0)
    assert committed == racers[results.index(True)][0]


async def test_racing_writers_that_retry_fill_every_version_once(store: Store) -> None:
    """Like the hub: on False, catch up with ops_since and retry at the next version."""
    await store.create_document("doc")

    async def writer(client_id: str) -> int:
        known = 0
        while True:
            known += len(await store.ops_since("doc", known))
            if await store.append("doc", [op_at(known + 1, client_id=client_id, seq=1)]):
                return known + 1

    won = await asyncio.gather(*(writer(f"c{i}") for i in range(20)))
    assert sorted(won) == list(range(1, 21))
    log = await store.ops_since("doc", 0)
    assert versions(log) == list(range(1, 21))
    assert sorted(op.client_id for op in log) == sorted(f"c{i}" for i in range(20))


async def test_appends_to_many_documents_share_transactions(open_store: OpenStore) -> None:
    batches: list[int] = []
    store = await open_store(on_commit_batch=batches.append)
    docs = [f"doc-{i}" for i in range(100)]
    for doc in docs:
        await store.create_document(doc)
    results = await asyncio.gather(*(store.append(doc, [op_at(1), op_at(2)]) for doc in docs))
    assert all(results)
    assert sum(batches) == len(docs)
    assert len(batches) < len(docs)
    for doc in docs:
        assert versions(await store.ops_since(doc, 0)) == [1, 2]


async def test_a_lost_race_does_not_fail_its_batch(open_store: OpenStore) -> None:
    batches: list[int] = []
    store = await open_store(on_commit_batch=batches.append)
    docs = [f"doc-{i}" for i in range(10)]
    for doc in docs:
        await store.create_document(doc)
    calls = [
        (doc, [op_at(version, client_id=f"{doc}/{version}/{n}", seq=1)])
        for doc in docs
        for version, n in ((1, 0), (1, 1), (3, 0))  # two racers for version 1, one gap
    ]
    results = await asyncio.gather(*(store.append(doc, ops) for doc, ops in calls))
    assert len(batches) < len(calls)
    for i, doc in enumerate(docs):
        first, second, gap = results[3 * i : 3 * i + 3]
        assert [first, second].count(True) == 1
        assert not gap
        winner = calls[3 * i][1] if first else calls[3 * i + 1][1]
        assert await store.ops_since(doc, 0) == winner


async def test_close_commits_queued_appends(open_store: OpenStore) -> None:
    store = await open_store()
    docs = [f"doc-{i}" for i in range(20)]
    # gather starts the appends first, so they are queued when close() runs.
    *results, _ = await asyncio.gather(
        *(store.append(doc, [op_at(1)]) for doc in docs), store.close()
    )
    assert all(results)
    reopened = await open_store()
    for doc in docs:
        assert versions(await reopened.ops_since(doc, 0)) == [1]


async def test_closed_store_refuses_calls(store: Store) -> None:
    await store.close()
    with pytest.raises(StorageError, match="closed"):
        await store.append("doc", [op_at(1)])
    with pytest.raises(StorageError, match="closed"):
        await store.ops_since("doc", 0)
    with pytest.raises(StorageError, match="closed"):
        await store.create_document("doc")
    await store.close()  # closing twice is harmless


# -- seqs, compaction, durability ---------------------------------------------------------------


async def test_committed_seq_and_last_seq(store: Store) -> None:
    await store.create_document("doc")
    assert await store.append(
        "doc", [op_at(1, client_id="a", seq=1), op_at(2, client_id="a", seq=2)]
    )
    assert await store.append("doc", [op_at(3, client_id="b", seq=1)])
    assert await store.append("doc", [op_at(4, client_id="a", seq=3)])
    assert await store.committed_seq("doc", "a", 2) == 2
    assert await store.committed_seq("doc", "a", 3) == 4
    assert await store.committed_seq("doc", "b", 1) == 3
    assert await store.committed_seq("doc", "b", 2) is None
    assert await store.committed_seq("other", "a", 1) is None
    assert await store.last_seq("doc", "a") == 3
    assert await store.last_seq("doc", "b") == 1
    assert await store.last_seq("doc", "c") == 0


async def test_compact_drops_old_ops_and_moves_oldest_version(store: Store) -> None:
    await store.create_document("doc")
    await append_range(store, "doc", 1, 10)
    await store.save_snapshot("doc", Snapshot("x" * 6, 6))
    await store.compact("doc", 4)
    assert await store.oldest_version("doc") == 4
    assert versions(await store.ops_since("doc", 0)) == list(range(5, 11))
    assert versions(await store.ops_since("doc", 6)) == list(range(7, 11))
    assert await store.committed_seq("doc", "client-a", 3) is None
    assert await store.committed_seq("doc", "client-a", 5) == 5


async def test_compact_keeps_ops_the_snapshot_does_not_cover(store: Store) -> None:
    await store.create_document("doc")
    await append_range(store, "doc", 1, 10)
    await store.save_snapshot("doc", Snapshot("x" * 6, 6))
    await store.compact("doc", 9)
    assert await store.oldest_version("doc") == 6
    assert versions(await store.ops_since("doc", 0)) == [7, 8, 9, 10]


async def test_compacting_everything_keeps_the_head(store: Store) -> None:
    await store.create_document("doc")
    await append_range(store, "doc", 1, 5)
    await store.save_snapshot("doc", Snapshot("x" * 5, 5))
    await store.compact("doc", 5)
    assert await store.ops_since("doc", 0) == []
    assert await store.oldest_version("doc") == 5
    assert not await store.append("doc", [op_at(1)])
    assert await store.append("doc", [op_at(6)])
    assert versions(await store.ops_since("doc", 0)) == [6]


async def test_last_seq_survives_compaction(store: Store) -> None:
    await store.create_document("doc")
    await append_range(store, "doc", 1, 5)
    before = await store.last_seq("doc", "client-a")
    await store.save_snapshot("doc", Snapshot("x" * 5, 5))
    await store.compact("doc", 5)
    assert await store.ops_since("doc", 0) == []
    assert before > 0
    assert await store.last_seq("doc", "client-a") == before


async def test_a_snapshot_can_compact_the_ops_it_covers_in_the_same_save(store: Store) -> None:
    await append_range(store, "doc", 1, 10)
    await store.save_snapshot("doc", Snapshot("x" * 8, 8), compact_to=5)
    assert await store.oldest_version("doc") == 5
    assert versions(await store.ops_since("doc", 0)) == [6, 7, 8, 9, 10]
    await store.save_snapshot("doc", Snapshot("x" * 9, 9), compact_to=12)  # clamped to 9
    assert versions(await store.ops_since("doc", 0)) == [10]
    assert await store.last_seq("doc", "client-a") == 10


async def test_a_refused_snapshot_compacts_nothing(store: Store) -> None:
    await append_range(store, "doc", 1, 4)
    with pytest.raises(ValueError, match="outside the op log"):
        await store.save_snapshot("doc", Snapshot("x" * 6, 6), compact_to=3)
    assert versions(await store.ops_since("doc", 0)) == [1, 2, 3, 4]


async def test_compact_of_unknown_document_is_a_no_op(store: Store) -> None:
    await store.compact("nope", 10)
    assert not await store.document_exists("nope")


async def test_data_survives_reopening(open_store: OpenStore) -> None:
    store = await open_store()
    await store.create_document("doc")
    await append_range(store, "doc", 1, 3)
    await store.save_snapshot("doc", Snapshot("xx", 2))
    await store.close()
    reopened = await open_store()
    assert await reopened.document_exists("doc")
    assert await reopened.load_snapshot("doc") == Snapshot("xx", 2)
    assert versions(await reopened.ops_since("doc", 0)) == [1, 2, 3]
    assert await reopened.append("doc", [op_at(4)])
