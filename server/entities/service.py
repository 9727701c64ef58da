"""The entities API without HTTP: authorization, write checks, idempotency in flight, the store
and change notices. The web layer parses requests into calls on ``EntityService``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from server.entities.access import Access
from server.entities.config import Collection, EntitiesConfig
from server.entities.cursor import Cursor, plan_pull
from server.entities.errors import Code, EntityError
from server.entities.feed import Page, assemble, feed_ranges
from server.entities.idempotency import InFlight, in_use
from server.entities.model import Record, Response, Write
from server.entities.notify import ChangeNotifier
from server.entities.store.base import EntityStore, Outcome, WriteCall, WriteUnit
from server.storage import StorageError

T = TypeVar("T")


class EntityMetrics(Protocol):
    """What the service reports; ``web.install`` adapts the server's metrics to it."""

    def pulled(self, lag_seconds: float) -> None:
        """A pull returned changes, the oldest ``lag_seconds`` old."""

    def batch(self, writes: int) -> None:
        """An outbox batch of ``writes`` writes arrived."""

    def replayed(self, count: int) -> None:
        """``count`` writes were answered from their idempotency key."""

    def conflicts(self, count: int) -> None:
        """Merge policies resolved ``count`` conflicts."""


class NoMetrics:
    """Reports nowhere."""

    def pulled(self, lag_seconds: float) -> None:
        """Nothing."""

    def batch(self, writes: int) -> None:
        """Nothing."""

    def replayed(self, count: int) -> None:
        """Nothing."""

    def conflicts(self, count: int) -> None:
        """Nothing."""


@dataclass(frozen=True, slots=True)
class PullRequest:
    """The parameters of one ``GET /v1/changes``."""

    since: str | None = None
    limit: int = 100
    collections: Sequence[str] | None = None
    wait: float = 0.0
    client: str | None = None
    omit_own: bool = False


class EntityService:
    """Reads, writes and the changes feed of every declared collection."""

    def __init__(
        self,
        config: EntitiesConfig,
        store: EntityStore,
        access: Access,
        notifier: ChangeNotifier,
        *,
        clock: Callable[[], float] = time.time,
        metrics: EntityMetrics | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.access = access
        self.notifier = notifier
        self._clock = clock
        self._metrics = metrics or NoMetrics()
        self._inflight = InFlight()
        self.conflicts_resolved = 0

    def collection(self, name: str) -> Collection:
        """A declared collection, or ``unknown_collection``."""
        found = self.config.collections.get(name)
        if found is None:
            known = ", ".join(sorted(self.config.collections)) or "none"
            raise EntityError(
                Code.UNKNOWN_COLLECTION,
                f"no collection {name!r} is declared (declared: {known})",
            )
        return found

    # -- reads ------------------------------------------------------------------------------------

    async def get(self, user: str | None, collection: str, record_id: str) -> Record:
        """One live record readable by ``user``; ``not_found`` otherwise."""
        await self._check_read(user, self.collection(collection))
        record = await self._storage(self.store.get(collection, record_id))
        if record is None or (record.owner is not None and record.owner != user):
            raise EntityError(Code.NOT_FOUND, f"no record {record_id!r} in {collection!r}")
        if record.deleted:
            raise EntityError(
                Code.NOT_FOUND,
                f"record {record_id!r} of {collection!r} was deleted",
                deleted=True,
                version=record.version,
            )
        return record

    async def list_records(
        self, user: str | None, collection: str, *, after: str, limit: int
    ) -> list[Record]:
        """Live records readable by ``user`` after id ``after``, by id."""
        await self._check_read(user, self.collection(collection))
        return await self._storage(
            self.store.list_records(collection, after_id=after, limit=limit, user=user)
        )

    async def pull(self, user: str | None, request: PullRequest) -> Page:
        """One page of the changes feed; with ``wait``, answers as soon as something changes."""
        syncing = await self._syncing(user, request.collections)
        cursor = Cursor.decode(request.since) if request.since else None
        plan = plan_pull(cursor, self.store.epoch, syncing)
        ranges = feed_ranges(plan)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.wait  # real time, whatever clock stamps records
        with self.notifier.watching(plan.collections) as changed:
            while True:
                changed.clear()
                read = await self._storage(
                    self.store.read_feed(ranges, user=user, limit=request.limit)
                )
                page = assemble(
                    plan,
                    read,
                    limit=request.limit,
                    client=request.client,
                    omit_own=request.omit_own,
                )
                remaining = deadline - loop.time()
                if page.changes or page.has_more or remaining <= 0 or self.notifier.stopped:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        if page.oldest_change is not None:
            self._metrics.pulled(max(0.0, self._clock() - page.oldest_change))
        return page

    async def _syncing(self, user: str | None, requested: Sequence[str] | None) -> list[str]:
        """The collections a pull syncs: those requested (default: all) that ``user`` may read.

        A requested collection that is not readable is left out rather than refused, so that a
        client that lost access gets a removal instead of an error.
        """
        names = list(self.config.collections) if requested is None else list(requested)
        for name in names:
            self.collection(name)
        return [n for n in names if await self.access.may_read(user, n)]

    # -- writes -----------------------------------------------------------------------------------

    async def write(self, user: str | None, write: Write) -> Outcome:
        """Apply one write; the outcome's response is the HTTP answer."""
        collection = self.collection(write.collection)
        await self._check_write(user, collection)
        check_write(write, collection)
        scope = user or ""
        if write.key is not None and self._inflight.busy(scope, write.key):
            raise in_use(write.key)
        unit = WriteUnit((WriteCall(write, collection, user),))
        with self._inflight.holding(scope, [write.key] if write.key else []):
            (outcome,) = await self._storage(self.store.write(unit))
        self._settled([outcome])
        return outcome

    async def batch(
        self, user: str | None, writes: Sequence[Write | EntityError], *, atomic: bool
    ) -> list[Outcome]:
        """Apply an outbox batch in order, each write atomically (or all of them with
        ``atomic``). Items that failed to parse arrive as errors and get their own result."""
        self._metrics.batch(len(writes))
        scope = user or ""
        results: list[Outcome | None] = []
        calls: list[WriteCall] = []
        for item in writes:
            try:
                call = await self._checked_call(user, scope, item)
            except EntityError as exc:
                results.append(_failed(exc))
                continue
            results.append(None)
            calls.append(call)
        if atomic and len(calls) < len(writes):
            return [r if r is not None else _failed(_aborted()) for r in results]
        keys = {c.write.key for c in calls if c.write.key is not None}
        with self._inflight.holding(scope, keys):
            stored = await self._storage(self.store.write(WriteUnit(tuple(calls), atomic)))
        self._settled(stored)
        done = iter(stored)
        return [r if r is not None else next(done) for r in results]

    async def _checked_call(
        self, user: str | None, scope: str, item: Write | EntityError
    ) -> WriteCall:
        if isinstance(item, EntityError):
            raise item
        collection = self.collection(item.collection)
        await self._check_write(user, collection)
        check_write(item, collection)
        if item.key is not None and self._inflight.busy(scope, item.key):
            raise in_use(item.key)
        return WriteCall(item, collection, user)

    def _settled(self, outcomes: Sequence[Outcome]) -> None:
        newest: dict[str, int] = {}
        replays = conflicts = 0
        for outcome in outcomes:
            replays += outcome.replayed
            conflicts += outcome.conflicts
            if outcome.committed:
                newest[outcome.collection] = max(outcome.seq, newest.get(outcome.collection, 0))
        for collection, seq in newest.items():
            self.notifier.notify(collection, seq)
        self.conflicts_resolved += conflicts
        if replays:
            self._metrics.replayed(replays)
        if conflicts:
            self._metrics.conflicts(conflicts)

    # -- maintenance -----------------------------------------------------------------------------

    async def purge(self) -> int:
        """Drop tombstones older than the retention and expired idempotency keys."""
        now = self._clock()
        return await self._storage(
            self.store.purge(
                tombstones_before=now - self.config.tombstone_retention_seconds,
                keys_before=now,
            )
        )

    # -- helpers ----------------------------------------------------------------------------------

    async def _check_read(self, user: str | None, collection: Collection) -> None:
        if not await self.access.may_read(user, collection.name):
            raise _forbidden(user, "read", collection.name)

    async def _check_write(self, user: str | None, collection: Collection) -> None:
        if not await self.access.may_write(user, collection.name):
            raise _forbidden(user, "write", collection.name)

    async def _storage(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except StorageError as exc:
            raise EntityError(
                Code.UNAVAILABLE, f"storage is unavailable ({exc}); nothing was written, retry"
            ) from exc


def check_write(write: Write, collection: Collection) -> None:
    """The checks that need no stored state, after authorization: required precondition and
    required idempotency key."""
    if collection.require_precondition and not write.has_precondition:
        raise EntityError(
            Code.PRECONDITION_REQUIRED,
            f"collection {collection.name!r} requires a precondition: send If-Match with the "
            'version you edited (e.g. If-Match: "3"), or If-None-Match: * to create',
        )
    if collection.require_idempotency_key and write.key is None:
        raise EntityError(
            Code.IDEMPOTENCY_KEY_REQUIRED,
            f"collection {collection.name!r} requires an Idempotency-Key on every write",
        )


def _forbidden(user: str | None, action: str, collection: str) -> EntityError:
    who = "anonymous users" if user is None else f"user {user!r}"
    return EntityError(Code.FORBIDDEN, f"{who} may not {action} collection {collection!r}")


def _failed(error: EntityError) -> Outcome:
    return Outcome(Response(error.status, error.to_body()))


def _aborted() -> EntityError:
    return EntityError(
        Code.ABORTED,
        "not applied: another write of this all-or-nothing batch failed; fix it and resend all",
    )
