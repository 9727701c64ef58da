"""What the hub reports about its work (commits, rejections, resyncs, time to consistency), as an
interface: the metrics live outside the hub, which imports no monitoring library.

The hub reports once per committed batch, not once per op or subscriber, so that observing costs
little beside the work observed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from server.hub.subscriber import Subscriber
from server.protocol.errors import ErrorCode


@dataclass(frozen=True, slots=True)
class CommitReport:
    """One committed batch of one document.

    ``behind[i]`` is how many ops the i-th op was rebased past (head version minus its base
    version); ``waited[i]`` the seconds from its arrival at the hub until its ack was queued.
    """

    behind: Sequence[int]
    waited: Sequence[float]
    commit_seconds: float  # the durable append of the whole batch
    fanout_seconds: float  # handing every op and ack to the subscribers' send queues
    subscribers: int


class HubObserver(Protocol):
    """Receives the hub's reports. Calls must be cheap and must not raise."""

    def committed(self, report: CommitReport) -> None:
        """A batch of ops is durable, acknowledged and queued for every subscriber."""

    def rejected(self, code: ErrorCode) -> None:
        """A submitted op was not committed, for the reason ``code``."""

    def resync_required(self) -> None:
        """A client asked for history the hub no longer keeps and must reload the document."""

    def consistent(self, seconds: float) -> None:
        """A committed batch was written to the socket of every subscriber that had the
        document open when it committed, ``seconds`` after the commit (time to consistency)."""


class NullObserver:
    """The observer of a hub nobody watches."""

    def committed(self, report: CommitReport) -> None:
        pass

    def rejected(self, code: ErrorCode) -> None:
        pass

    def resync_required(self) -> None:
        pass

    def consistent(self, seconds: float) -> None:
        pass


class ConsistencyProbe:
    """Counts down the subscribers that still have to write a batch; reports when none is left.

    Each subscriber calls the probe once, through ``Subscriber.when_sent``, when the frame holding
    what it was delivered so far has been written (or dropped with its connection).
    """

    __slots__ = ("_on_done", "_remaining", "_started")

    def __init__(self, started: float, remaining: int, on_done: Callable[[float], None]) -> None:
        self._started = started
        self._remaining = remaining
        self._on_done = on_done

    def __call__(self) -> None:
        self._remaining -= 1
        if self._remaining == 0:
            self._on_done(time.perf_counter() - self._started)


def probe_consistency(
    subscribers: Collection[Subscriber], started: float, on_done: Callable[[float], None]
) -> None:
    """Call ``on_done(seconds since started)`` once every subscriber has sent what it was given."""
    if not subscribers:
        on_done(time.perf_counter() - started)
        return
    probe = ConsistencyProbe(started, len(subscribers), on_done)
    for subscriber in subscribers:
        subscriber.when_sent(probe)
