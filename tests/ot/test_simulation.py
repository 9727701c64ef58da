"""Client-server simulation (ot.js ``test-client-server.js``, grown): ``ot.Client`` replicas and a
transform-to-head server exchange messages over FIFO channels, delivered in seeded random
interleavings with local edits in between; connections drop and come back. Every replica must end
equal to the server's text, and the server must commit each submitted op exactly once.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import pytest

from ot import Client, Submission, Synchronized, TextOperation, transform_against
from tests.ot.strategies import IN_CI, random_op, random_text

SEEDS_PER_CHUNK = 200 if IN_CI else 25
CHUNKS = range(10)  # 2,000 seeded runs per test in CI, 250 otherwise


@dataclass(frozen=True)
class Committed:
    """A history entry and server-to-client message: ``op`` became ``version`` (1-based)."""

    version: int
    op: TextOperation
    author: int
    seq: int


class Server:
    """The hub's core: transform to head, commit, ack the author, broadcast to the others.

    Deduplicates by ``(author, seq)``: a client that lost its connection resubmits an op the
    server may already have committed.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.history: list[Committed] = []
        self.committed: set[tuple[int, int]] = set()
        self.duplicates = 0
        self.downlinks: dict[int, deque[Committed]] = {}  # open connections

    def connect(self, client_id: int, version: int) -> list[Committed]:
        """Open a connection; returns what the client missed since ``version``."""
        self.downlinks[client_id] = deque()
        return self.history[version:]

    def disconnect(self, client_id: int) -> None:
        del self.downlinks[client_id]  # whatever was on its way to the client is lost

    def receive(self, author: int, submission: Submission) -> None:
        if (author, submission.seq) in self.committed:
            self.duplicates += 1
            return
        assert submission.base_version <= len(self.history)
        concurrent = [c.op for c in self.history[submission.base_version :]]
        op = transform_against(submission.op, concurrent)
        self.text = op.apply(self.text)
        entry = Committed(len(self.history) + 1, op, author, submission.seq)
        self.history.append(entry)
        self.committed.add((author, submission.seq))
        for downlink in self.downlinks.values():
            downlink.append(entry)  # to the author, this is the ack


class Replica:
    """One client's document: its text and its ``ot.Client``."""

    def __init__(self, client_id: int, text: str) -> None:
        self.id = client_id
        self.text = text
        self.client = Client(0)

    def edit(self, op: TextOperation) -> Submission | None:
        self.text = op.apply(self.text)
        return self.client.apply_client(op)

    def receive(self, entry: Committed) -> Submission | None:
        assert entry.version == self.client.version + 1, "a gap or a repeat in the stream"
        if entry.author == self.id:
            # Our own op: the ack (live or found while catching up), recognised by its seq.
            assert entry.seq == self.client.outstanding_seq
            return self.client.server_ack()
        self.text = self.client.apply_server(entry.op).apply(self.text)
        return None


class Simulation:
    """Clients and a server over per-client FIFO channels, driven by one seeded ``Random``."""

    def __init__(
        self, rng: random.Random, clients: int, *, drops: bool, text: str | None = None
    ) -> None:
        self.rng = rng
        text = random_text(rng) if text is None else text
        self.server = Server(text)
        self.replicas = [Replica(i, text) for i in range(clients)]
        self.uplinks: dict[int, deque[Submission]] = {}  # open connections, client to server
        # Sent on a dropped connection and still on its way: it reaches the server only after the
        # client has reconnected, caught up and resubmitted it (the race server dedup is for).
        self.late: list[tuple[int, Submission]] = []
        self.drops = drops
        for replica in self.replicas:
            self.connect(replica)

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.step()
        for replica in self.replicas:
            if replica.id not in self.uplinks:
                self.connect(replica)
        while self.deliverable():
            self.deliver()

    def step(self) -> None:
        roll = self.rng.random()
        replica = self.rng.choice(self.replicas)
        if roll < 0.35:
            self.send(replica, replica.edit(random_op(self.rng, replica.text)))
        elif self.drops and roll < 0.40:
            if replica.id in self.uplinks:
                self.disconnect(replica)
            else:
                self.connect(replica)
        elif self.deliverable():
            self.deliver()

    def send(self, replica: Replica, submission: Submission | None) -> None:
        if submission is not None and replica.id in self.uplinks:
            self.uplinks[replica.id].append(submission)  # offline, it is resubmitted later

    def deliverable(self) -> list[tuple[str, int]]:
        """The channels with a message waiting, as ``(kind, client id or index in late)``."""
        return [
            *(("uplink", i) for i, channel in self.uplinks.items() if channel),
            *(("downlink", i) for i, channel in self.server.downlinks.items() if channel),
            *(("late", i) for i, (author, _) in enumerate(self.late) if author in self.uplinks),
        ]

    def deliver(self) -> None:
        """Deliver the next message of a random channel that has one."""
        self.deliver_from(*self.rng.choice(self.deliverable()))

    def deliver_from(self, kind: str, i: int) -> None:
        if kind == "uplink":
            self.server.receive(i, self.uplinks[i].popleft())
        elif kind == "downlink":
            replica = self.replicas[i]
            self.send(replica, replica.receive(self.server.downlinks[i].popleft()))
        else:
            self.server.receive(*self.late.pop(i))

    def disconnect(self, replica: Replica, fate: str | None = None) -> None:
        """Drop a connection: each op in flight reaches the server before the drop, after the
        reconnect, or never (at random unless ``fate`` says which)."""
        for submission in self.uplinks.pop(replica.id):
            fate = fate or self.rng.choice(("arrives", "arrives late", "lost"))
            if fate == "arrives":
                self.server.receive(replica.id, submission)
            elif fate == "arrives late":
                self.late.append((replica.id, submission))
        self.server.disconnect(replica.id)

    def connect(self, replica: Replica) -> None:
        """(Re)connect: catch up from the replica's version, then resubmit what is in flight."""
        missed = self.server.connect(replica.id, replica.client.version)
        self.uplinks[replica.id] = deque()
        for entry in missed:
            replica.receive(entry)  # what an ack found here would send, resubmission() covers
        self.send(replica, replica.client.resubmission())

    def assert_converged(self) -> None:
        server = self.server
        for replica in self.replicas:
            assert replica.text == server.text
            assert replica.client.state == Synchronized()
            assert replica.client.version == len(server.history)
            # Exactly once: every seq the client used is in the history once, and nothing else.
            seqs = sorted(entry.seq for entry in server.history if entry.author == replica.id)
            assert seqs == list(range(1, replica.client.last_seq + 1))


def _run_seeds(chunk: int, *, drops: bool) -> None:
    for seed in range(chunk * SEEDS_PER_CHUNK, (chunk + 1) * SEEDS_PER_CHUNK):
        rng = random.Random(seed)
        try:
            simulation = Simulation(rng, clients=rng.randint(3, 5), drops=drops)
            simulation.run(steps=rng.randint(20, 80))
            simulation.assert_converged()
        except Exception as exc:
            exc.add_note(f"simulation seed {seed}, drops={drops}")
            raise


@pytest.mark.parametrize("chunk", CHUNKS)
def test_replicas_converge(chunk: int) -> None:
    _run_seeds(chunk, drops=False)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_replicas_converge_through_dropped_connections(chunk: int) -> None:
    _run_seeds(chunk, drops=True)


@pytest.mark.parametrize(
    ("fate", "late_first"),
    [
        pytest.param("arrives", False, id="committed before the drop"),
        pytest.param("lost", False, id="lost"),
        pytest.param("arrives late", True, id="original arrives after the reconnect, first"),
        pytest.param("arrives late", False, id="original arrives after the resubmission"),
    ],
)
def test_reconnect_with_an_op_in_flight(fate: str, late_first: bool) -> None:
    """A drops with its op in flight. Whether or not the server got it, A catches up, resubmits,
    and the server applies the op exactly once."""
    simulation = Simulation(random.Random(0), clients=2, drops=True, text="abc")
    a, b = simulation.replicas
    simulation.send(a, a.edit(TextOperation.from_edit(0, 0, "X")))  # in flight, seq 1
    simulation.send(a, a.edit(TextOperation.from_edit(1, 0, "Y")))  # buffered
    simulation.send(b, b.edit(TextOperation.from_edit(0, 0, "😀")))
    simulation.deliver_from("uplink", b.id)  # B's op is committed first: A's op is concurrent

    simulation.disconnect(a, fate)
    assert [(e.author, e.seq) for e in simulation.server.history] == (
        [(b.id, 1), (a.id, 1)] if fate == "arrives" else [(b.id, 1)]
    )
    simulation.connect(a)  # catches up: an ack if the op arrived, B's op in any case
    assert a.client.version == len(simulation.server.history)
    resubmitted = simulation.uplinks[a.id][0]
    assert resubmitted.seq == (2 if fate == "arrives" else 1)  # the buffer, or the lost op again
    if late_first:
        simulation.deliver_from("late", 0)  # the original reaches the server before the copy
    simulation.deliver_from("uplink", a.id)
    simulation.run(steps=0)  # deliver the rest
    simulation.assert_converged()
    assert simulation.server.text == "XY😀abc"  # A's X wins the tie at 0 on the server too
    assert simulation.server.duplicates == (1 if fate == "arrives late" else 0)
