"""The group-commit queue on its own, with a fake commit function and no database."""

from __future__ import annotations

import asyncio

import pytest

from server.storage import StorageError
from server.storage._group_commit import GroupCommitter


class FakeLog:
    """A commit function that records its batches and can be held open or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.error: Exception | None = None

    async def commit(self, items: list[int]) -> list[int]:
        self.entered.set()
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        self.batches.append(items)
        return [item * 10 for item in items]


async def test_writes_queued_during_a_commit_go_in_the_next_batch() -> None:
    log = FakeLog()
    sizes: list[int] = []
    committer = GroupCommitter(log.commit, on_batch=sizes.append)
    log.gate.clear()
    first = asyncio.create_task(committer.submit(1))
    await log.entered.wait()  # batch [1] is committing now
    rest = [asyncio.create_task(committer.submit(n)) for n in range(2, 6)]
    await asyncio.sleep(0)  # let them queue
    log.gate.set()
    assert await asyncio.gather(first, *rest) == [10, 20, 30, 40, 50]
    assert log.batches == [[1], [2, 3, 4, 5]]
    assert sizes == [1, 4]


async def test_max_batch_splits_batches() -> None:
    log = FakeLog()
    committer = GroupCommitter(log.commit, max_batch=3)
    assert await asyncio.gather(*(committer.submit(n) for n in range(7))) == [
        n * 10 for n in range(7)
    ]
    assert log.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_failed_commit_fails_every_caller_of_its_batch() -> None:
    log = FakeLog()
    log.error = OSError("disk on fire")
    committer = GroupCommitter(log.commit)
    results = await asyncio.gather(*(committer.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(r, StorageError) for r in results)
    assert len({id(r) for r in results}) == 3  # one exception object per caller
    assert all(isinstance(r.__cause__, OSError) for r in results if isinstance(r, BaseException))
    log.error = None
    assert await committer.submit(4) == 40  # the next batch works again


async def test_cancelled_caller_does_not_disturb_the_batch() -> None:
    log = FakeLog()
    committer = GroupCommitter(log.commit)
    log.gate.clear()
    doomed = asyncio.create_task(committer.submit(1))
    kept = asyncio.create_task(committer.submit(2))
    await log.entered.wait()
    doomed.cancel()
    log.gate.set()
    assert await kept == 20
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert log.batches == [[1, 2]]  # the write itself was still committed


async def test_broken_batch_hook_does_not_fail_writes(caplog: pytest.LogCaptureFixture) -> None:
    def hook(size: int) -> None:
        raise RuntimeError("metrics down")

    committer = GroupCommitter(FakeLog().commit, on_batch=hook)
    assert await committer.submit(1) == 10
    assert "on_commit_batch hook failed" in caplog.text


async def test_close_drains_then_refuses() -> None:
    log = FakeLog()
    committer = GroupCommitter(log.commit)
    pending = [asyncio.create_task(committer.submit(n)) for n in range(3)]
    await asyncio.sleep(0)
    await committer.close()
    assert all(task.done() for task in pending)
    assert [task.result() for task in pending] == [0, 10, 20]
    with pytest.raises(StorageError, match="closed"):
        await committer.submit(9)


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        GroupCommitter(FakeLog().commit, max_batch=0)
