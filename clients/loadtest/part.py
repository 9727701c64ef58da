"""One process's share of a run, and the phases every workload's part goes through: connect,
meet the others, load, drain, meet again, check convergence against the server, close."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Container, Iterable
from dataclasses import dataclass, field

import aiohttp

from clients.loadtest.coordination import ProgressBoard, Rendezvous
from clients.loadtest.editor import Context, EditGate, Editor
from clients.loadtest.edits import EditMaker
from clients.loadtest.options import LoadOptions
from clients.loadtest.replica import SeenOps
from clients.loadtest.stats import PartStats, RunClock

PROGRESS_SECONDS = 0.5
MAX_DIVERGED_REPORTED = 20


def doc_id(run_id: str, index: int) -> str:
    return f"lt-{run_id}-{index}"


def client_id(run_id: str, index: int) -> str:
    return f"lt-{run_id}-c{index}"


@dataclass(frozen=True, slots=True)
class PartPlan:
    """What a process is told (picklable): the run, and which share of it is its own."""

    options: LoadOptions
    run_id: str
    epoch_wall: float
    index: int
    count: int

    def owns(self, item: int) -> bool:
        """Clients are dealt round-robin: client ``item`` belongs to part ``item % count``."""
        return item % self.count == self.index


@dataclass(slots=True)
class PartEnv:
    """A part at work: its plan, HTTP session, figures and the run's coordination."""

    plan: PartPlan
    http: aiohttp.ClientSession
    rendezvous: Rendezvous
    board: ProgressBoard
    stats: PartStats = field(default_factory=PartStats)
    editors: list[Editor] = field(default_factory=list)
    seen: SeenOps = field(default_factory=SeenOps)
    clock: RunClock = field(init=False)
    gate: EditGate = field(init=False)

    def __post_init__(self) -> None:
        options = self.plan.options
        self.clock = RunClock(self.plan.epoch_wall)
        budget = None
        if options.max_ops is not None:
            budget = options.max_ops // self.plan.count
            budget += self.plan.index < options.max_ops % self.plan.count
        self.gate = EditGate(budget=budget)

    @property
    def options(self) -> LoadOptions:
        return self.plan.options

    def context(self, gate: EditGate | None = None) -> Context:
        seed = f"{self.options.seed}-{self.plan.index}-{len(self.editors)}"
        return Context(
            http=self.http,
            target=self.options.target,
            stats=self.stats,
            clock=self.clock,
            gate=gate if gate is not None else self.gate,
            edits=EditMaker(random.Random(seed), self.options.doc_size),
            seen=self.seen,
            presence=self.options.presence,
        )

    async def connect(
        self, clients: Iterable[tuple[str, list[str], bool]], lean: Container[str] = ()
    ) -> None:
        """Connect ``(client id, documents, closed loop)`` editors, a bounded number at once;
        those in ``lean`` keep lean replicas (see ``Replica``)."""
        limit = asyncio.Semaphore(self.options.connect_concurrency)

        async def connect_one(client: str, docs: list[str], closed_loop: bool) -> None:
            async with limit:
                editor = Editor(
                    client, self.context(), closed_loop=closed_loop, keep_text=client not in lean
                )
                self.editors.append(editor)
                await editor.connect()
                for doc in docs:
                    await editor.open(doc)

        async with asyncio.TaskGroup() as group:
            for client, docs, closed_loop in clients:
                group.create_task(connect_one(client, docs, closed_loop))

    async def publish_progress(self) -> None:
        """Keep this part's row of the progress board current (until cancelled)."""
        while True:
            self.board.publish(self.plan.index, self.stats)
            await asyncio.sleep(PROGRESS_SECONDS)

    async def measure(
        self,
        started: float | None = None,
        settled: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """The load phase, begun at ``started`` (now by default): the window opens after the
        warm-up and closes at the deadline, or once the op budget is spent and every answer is
        in (``settled``; by default, no editor has an op in flight), whichever comes first."""
        options, stats = self.options, self.stats
        start = (time.perf_counter() if started is None else started) + options.warmup
        deadline = start + options.duration
        stats.open_window(start, self.clock)
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        cpu = time.process_time()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(_loop_time(deadline)):
                await self.gate.exhausted.wait()
                await (settled or self._settled)()
        end = min(time.perf_counter(), deadline)
        self.gate.open = False
        stats.close_window(end, self.clock)
        stats.cpu_seconds = time.process_time() - cpu

    async def drain(self) -> None:
        """Wait until no editor of this part has an op waiting for its ack."""
        self.gate.open = False
        async with asyncio.timeout(self.options.drain_timeout):
            await self._settled()

    async def check_convergence(self) -> None:
        """Every replica must reach the server's version and equal its text."""
        docs = {doc for editor in self.editors for doc in editor.replicas}
        await asyncio.gather(*(self._check_doc(doc) for doc in sorted(docs)))

    async def close(self) -> None:
        await asyncio.gather(*(editor.close() for editor in self.editors))

    async def _check_doc(self, doc: str) -> None:
        url = self.options.target.doc_url(doc)
        async with self.http.get(url) as response:
            response.raise_for_status()
            head = await response.json()
        holders = [e for e in self.editors if doc in e.replicas]
        try:
            async with asyncio.timeout(self.options.drain_timeout):
                for editor in holders:
                    while editor.replicas[doc].version < head["version"]:
                        if editor.replicas[doc].broken:
                            break
                        editor.changed.clear()
                        await editor.changed.wait()
        except TimeoutError:
            pass  # the replicas still behind are reported below
        for editor in holders:
            self._judge(editor, doc, head["version"], head["text"])

    def _judge(self, editor: Editor, doc: str, version: int, text: str) -> None:
        replica = editor.replicas[doc]
        self.stats.replicas += 1
        self.stats.lean_replicas += replica.text is None
        problem = replica.broken
        if problem is None and (replica.version != version or replica.pending):
            problem = f"at version {replica.version}, {replica.pending} pending; server {version}"
        if problem is None and replica.text is not None and replica.text != text:
            problem = f"text differs from the server's at version {version}"
        if problem is None and replica.length != len(text):
            problem = f"length {replica.length} differs from the server's {len(text)}"
        if problem is not None and len(self.stats.diverged) < MAX_DIVERGED_REPORTED:
            self.stats.diverged.append(f"{editor.client_id} on {doc}: {problem}")
        elif problem is not None:
            extra = self.stats.extra
            extra["diverged_unreported"] = extra.get("diverged_unreported", 0) + 1

    async def _settled(self) -> None:
        """Wait until every replica has nothing in flight (or is broken)."""
        for editor in self.editors:
            while any(r.pending and not r.broken for r in editor.replicas.values()):
                editor.changed.clear()
                await editor.changed.wait()


def _loop_time(perf: float) -> float:
    """The event loop's clock at the ``perf_counter`` instant ``perf``."""
    return asyncio.get_running_loop().time() + perf - time.perf_counter()
