"""The load tester against a real server: short runs of each workload must converge with
consistent counts; non-loopback targets are refused before any connection."""

from __future__ import annotations

import asyncio
import math
import random
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from clients.loadtest import LoadOptions, TargetRefused, parse_target, run_loadtest
from clients.loadtest.editor import Context, EditGate, Editor
from clients.loadtest.edits import EditMaker, op_micros, token_micros
from clients.loadtest.latency import LatencyHistogram
from clients.loadtest.parts import LoadTestError
from clients.loadtest.replica import Replica, SeenOps
from clients.loadtest.stats import PartStats, RunClock
from server.cli import main
from server.config import Settings
from server.entities.config import parse_config
from server.web.app import make_app
from tests.server.app_server import AppServer


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="NORMAL")
    test_server = AppServer(make_app(settings), host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    await test_server.close()


@pytest.fixture
async def entities_server(tmp_path: Path) -> AsyncIterator[TestServer]:
    config = parse_config({"collections": {"loadtest": {"fields": {"count": "counter"}}}})
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="NORMAL", entities=config)
    test_server = AppServer(make_app(settings), host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    await test_server.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    """``coedit serve`` in its own process (uvloop, default limits); yields its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "served"), "--sqlite-synchronous", "NORMAL"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        try:
            assert process.stdout is not None
            assert b"listening" in process.stdout.readline()  # printed once the app is built
            yield port
        finally:
            process.terminate()
            process.wait(timeout=30)


async def ready(port: int) -> None:
    async with asyncio.timeout(30), aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)  # the port opens a moment after the banner


def options(server: TestServer | int, workload: str, **fields: object) -> LoadOptions:
    port = server if isinstance(server, int) else server.port
    target = parse_target(f"http://127.0.0.1:{port}", allow_remote=False)
    base = LoadOptions(
        workload, target, doc_size=2000, duration=20.0, progress=False, drain_timeout=10.0
    )
    return replace(base, **fields)  # type: ignore[arg-type]


async def test_hot_doc_closed_loop_converges_with_consistent_counts(server: TestServer) -> None:
    report = await run_loadtest(options(server, "hot-doc", editors=4, max_ops=200))
    stats = report.stats
    assert report.ok, report.table()
    assert stats.replicas == 4 and stats.lean_replicas == 1 and stats.connected == 0
    assert stats.edits == stats.submitted == stats.acked == stats.acked_edits == 200
    assert stats.ack.count == 200
    assert stats.received == stats.broadcast.count == 200 * 3  # each op reaches the 3 others
    assert 0 < stats.ack.percentile(0.5) <= stats.ack.percentile(0.99) <= stats.ack.maximum
    assert report.throughput > 0 and report.server["committed"] == 200
    assert 0 < report.server["commit_p99"] < 10
    assert "loop_lag_p99" in report.server  # NaN if the window was under one probe interval
    assert "commit p99 ≤" in report.table()
    assert report.to_json()["converged"] is True


async def test_lean_replicas_converge_when_every_replica_is_lean(server: TestServer) -> None:
    report = await run_loadtest(options(server, "hot-doc", editors=4, max_ops=100, replicas=0))
    assert report.ok, report.table()
    assert report.stats.replicas == report.stats.lean_replicas == 4


def test_a_lean_replica_keeps_the_length_a_full_one_has() -> None:
    rnd = random.Random(7)
    text = "".join(rnd.choices("abc ", k=50))
    full, lean = Replica("d", text, 0), Replica("d", text, 0, keep_text=False)
    seen = SeenOps()
    maker = EditMaker(rnd, target_size=60)
    for step in range(300):
        if step % 4 == 0:  # a local edit, the same on both
            op = maker.edit(lean.length, step)
            full.edit(op, 0.0)
            lean.edit(op, 0.0)
        elif step % 4 == 1 and lean.pending:  # the op in flight is acknowledged
            full.ack()
            lean.ack()
        else:  # another client's op, made against the server's text at the replicas' version
            state = lean.client.state
            unacked = [getattr(state, n) for n in ("outstanding", "buffer") if hasattr(state, n)]
            server_length = lean.length - sum(op.length_delta for op in unacked)
            remote = maker.edit(server_length, step).to_json()
            trusted = seen.committed("d", lean.version + 1, remote).op
            full.remote(remote, trusted)
            lean.remote(remote, trusted)
        assert full.text is not None and lean.text is None
        assert lean.length == full.length == len(full.text)
        assert lean.version == full.version and lean.pending == full.pending


async def test_fan_out_open_loop_reaches_every_subscriber(server: TestServer) -> None:
    run = options(server, "fan-out", writers=1, subscribers=5, rate=100.0, duration=1.0)
    report = await run_loadtest(run)
    stats = report.stats
    assert report.ok, report.table()
    assert 90 <= stats.edits <= 101 and stats.acked_edits == stats.edits
    assert stats.replicas == 6
    assert stats.received == stats.acks_total * 5  # every committed op at every subscriber
    assert stats.broadcast.count == stats.received
    assert stats.broadcast.percentile(0.99) < 1.0


async def test_runs_against_coedit_serve_in_its_own_process(served: int) -> None:
    await ready(served)
    fan_out = await run_loadtest(
        options(served, "fan-out", writers=1, subscribers=20, rate=50.0, duration=1.0)
    )
    assert fan_out.ok, fan_out.table()
    assert fan_out.stats.received == fan_out.stats.acks_total * 20 > 0
    hot = await run_loadtest(options(served, "hot-doc", editors=3, max_ops=90))
    assert hot.ok, hot.table()
    assert hot.stats.acked_edits == 90 and hot.stats.received == 90 * 2
    assert hot.server["committed"] == 90  # the window's /metrics reading


async def test_several_processes_add_up(server: TestServer) -> None:
    report = await run_loadtest(options(server, "many-docs", editors=6, docs=3, max_ops=60,
                                        processes=2))  # fmt: skip
    assert report.ok, report.table()
    assert report.processes == 2 and report.stats.replicas == 6
    assert report.stats.acked_edits == 60 and report.stats.received == 60  # one other per doc


async def test_catch_up_converges_each_round(server: TestServer) -> None:
    report = await run_loadtest(options(server, "catch-up", rounds=2, offline_ops=30))
    assert report.ok, report.table()
    assert report.stats.timings["converge"].count == 2
    assert report.stats.replicas == 2


async def test_idle_measures_memory_and_first_acks(server: TestServer) -> None:
    run = options(server, "idle", connections=20, docs=4, probes=2, settle=0.0)
    report = await run_loadtest(run)
    assert report.ok, report.table()
    assert report.stats.replicas == 20  # the probes' edits reached the idle replicas
    assert report.stats.timings["probe first ack"].count == 2
    assert report.stats.extra["server_rss_after"] > 0
    assert "per connection" in report.table()


async def test_entities_devices_converge_and_replays_count_once(
    entities_server: TestServer,
) -> None:
    run = options(
        entities_server, "entities", editors=4, records=30, batch=5, max_ops=40,
        replay_share=0.5, warmup=0.0,
    )  # fmt: skip
    report = await run_loadtest(run)
    stats = report.stats
    assert report.ok, report.table()
    assert stats.edits == 40 * 5 and stats.acked_edits == 200 and stats.replicas == 4
    assert stats.extra["server_count_total"] == stats.extra["increments"] == 200
    assert stats.extra["replayed_writes"] > 0  # about half the pushes were sent twice
    assert stats.broadcast.count > 0  # devices saw each other's writes in the feed


async def test_entities_refuses_an_undeclared_collection(server: TestServer) -> None:
    with pytest.raises(LoadTestError, match="entities-config"):
        await run_loadtest(options(server, "entities", editors=1, max_ops=1))


@pytest.mark.parametrize("url", ["http://10.1.2.3:8765", "http://192.0.2.1", "https://8.8.8.8/"])
def test_non_loopback_targets_are_refused(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(TargetRefused):
        parse_target(url, allow_remote=False)
    assert main(["loadtest", "hot-doc", "--url", url, "--quiet"]) == 2
    assert "not this machine" in capsys.readouterr().err
    assert parse_target(url, allow_remote=True).ws_url.endswith("/v1/ws")


def test_loopback_names_are_accepted() -> None:
    for url in ("http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:8765"):
        target = parse_target(url, allow_remote=False)
        assert target.ws_url.startswith("ws://") and target.ws_url.endswith("/v1/ws")
    with pytest.raises(TargetRefused):
        parse_target("ftp://127.0.0.1", allow_remote=False)


def test_latency_histogram_percentiles_within_one_percent() -> None:
    rnd = random.Random(3)
    samples = [rnd.lognormvariate(-5, 1) for _ in range(20_000)]
    histogram, other = LatencyHistogram(), LatencyHistogram()
    for i, sample in enumerate(samples):
        (histogram if i % 2 else other).record(sample)
    histogram.merge(other)
    samples.sort()
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = samples[math.ceil(q * len(samples)) - 1]
        assert exact <= histogram.percentile(q) <= exact * 1.011
    assert histogram.maximum == samples[-1] and histogram.count == len(samples)


def test_edits_carry_their_timestamp_through_composition() -> None:
    maker = EditMaker(random.Random(1), target_size=50)
    first, second = maker.edit(40, 1000), maker.edit(40, 2000)
    assert op_micros(first.to_json()) == 1000
    assert token_micros("ab{7d0}c{3e8}") == 1000  # the earliest of several
    assert token_micros("{7d") is None and token_micros("x}{zz}") is None
    assert op_micros(second.to_json()) == 2000


def test_seen_ops_parse_each_version_once_and_stay_bounded() -> None:
    seen = SeenOps(limit=2)
    wire: list[int | str] = [3, "{1f}", -4]
    first = seen.committed("d", 7, wire)
    assert seen.committed("d", 7, wire) is first  # parsed once, shared by every editor
    assert first.op.to_json() == wire and first.micros == op_micros(wire) == 0x1F
    assert seen.committed("e", 7, [1, "x"]) is not first  # per document
    seen.committed("d", 8, [2, "y"])  # the limit reached: forgotten, parsed again on demand
    again = seen.committed("d", 7, wire)
    assert again is not first and again == first


@pytest.mark.parametrize("keep_text", [True, False], ids=["full", "lean"])
@pytest.mark.parametrize("bad_op", [5, [10, "x"]], ids=["not-a-list", "past-the-end"])
async def test_a_malformed_remote_op_breaks_only_its_replica(
    keep_text: bool, bad_op: object
) -> None:
    """A server that sends an op no client could apply: the replica is marked broken with
    ``remote_op_invalid`` and counted, and the editor keeps reading its socket."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            kind = orjson.loads(message.data)["type"]
            if kind == "hello":
                await ws.send_str('{"type": "welcome"}')
            elif kind == "open":
                doc = orjson.loads(message.data)["doc"]
                opened = {"type": "opened", "doc": doc, "text": "abc", "version": 0}
                await ws.send_str(orjson.dumps(opened).decode())
                if doc == "d":
                    op = {"type": "op", "doc": doc, "version": 1, "op": bad_op}
                    await ws.send_str(orjson.dumps(op).decode())
        return ws

    app = web.Application()
    app.router.add_get("/v1/ws", handler)
    async with TestServer(app) as fake, aiohttp.ClientSession() as http:
        target = parse_target(str(fake.make_url("")), allow_remote=False)
        stats = PartStats()
        context = Context(
            http, target, stats, RunClock(0.0), EditGate(), EditMaker(random.Random(1), 3),
            SeenOps(),
        )  # fmt: skip
        editor = Editor("c1", context, keep_text=keep_text)
        await editor.connect()
        replica = await editor.open("d")
        async with asyncio.timeout(5):
            while not replica.broken:
                editor.changed.clear()
                await editor.changed.wait()
        assert replica.broken == "remote_op_invalid"
        assert stats.errors == {"remote_op_invalid": 1}
        other = await editor.open("e")  # the socket is still read
        assert other.version == 0 and not other.broken
        await editor.close()


async def test_presence_reaches_every_other_editor(server: TestServer) -> None:
    report = await run_loadtest(options(server, "hot-doc", editors=3, max_ops=60, presence=True))
    assert report.ok, report.table()
    extra = report.stats.extra
    assert extra["presence_sent"] == report.stats.edits == 60
    assert extra["presence_received"] == 60 * 2  # each cursor reaches the two others
    assert "60 cursors sent, 120 received" in report.table()
