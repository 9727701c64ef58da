"""What a workload is: the documents to seed, the work of each process, and what the parent
process does while the parts hold their connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from clients.loadtest.options import LoadOptions
from clients.loadtest.part import PartEnv
from clients.loadtest.stats import PartStats, RunClock


@dataclass(slots=True)
class ParentEnv:
    """The parent process of a run; its ``stats`` hold what it measures itself."""

    options: LoadOptions
    run_id: str
    http: aiohttp.ClientSession
    clock: RunClock
    stats: PartStats = field(default_factory=PartStats)


ParentStep = Callable[[ParentEnv], Awaitable[None]]


async def nothing(env: ParentEnv) -> None:
    """A parent step with no work."""


async def no_check(env: ParentEnv, stats: PartStats) -> None:
    """No check of the merged figures."""


@dataclass(frozen=True, slots=True)
class Workload:
    """``before`` runs ahead of the parts; ``during`` between their two rendezvous (all
    connected; all drained); ``after`` checks the figures of all parts together."""

    name: str
    summary: str
    documents: Callable[[LoadOptions, str], list[str]]
    run_part: Callable[[PartEnv], Awaitable[None]]
    before: ParentStep = nothing
    during: ParentStep = nothing
    after: Callable[[ParentEnv, PartStats], Awaitable[None]] = no_check
    single_process: bool = False
