"""``/metrics`` after real traffic: counters and histograms move, labels stay bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from server.config import Limits
from server.observability.loopmetrics import LoopMetrics
from tests.server.conftest import ServerFactory
from tests.server.wsclient import WsClient

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: aiohttp.ClientSession, server: TestServer) -> tuple[str, Samples]:
    async with http.get(server.make_url("/metrics")) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape_until(
    http: aiohttp.ClientSession, server: TestServer, done: Callable[[Samples], bool]
) -> tuple[str, Samples]:
    """Scrape until ``done`` holds: some metrics are observed just after the client sees a reply."""
    async with asyncio.timeout(10):
        while True:
            text, samples = await scrape(http, server)
            if done(samples):
                return text, samples
            await asyncio.sleep(0.01)


async def test_metrics_move_with_traffic_and_carry_no_document_ids(
    server: TestServer,
    connect: Callable[..., Awaitable[WsClient]],
    http: aiohttp.ClientSession,
) -> None:
    doc = "metrics-doc-7f3a"
    alice, bob = await connect("alice-m"), await connect("bob-m")
    await alice.open(doc)
    await bob.open(doc)
    for seq in (1, 2, 3):
        await alice.send(
            {"type": "submit", "doc": doc, "version": seq - 1, "seq": seq, "op": ["x"]}
        )
        await alice.expect_type("ack", seq=seq)
    await bob.send({"type": "submit", "doc": doc, "version": 0, "seq": 1, "op": ["y"]})
    assert (await bob.expect_type("ack"))["version"] == 4  # rebased past alice's three ops
    await alice.send({"type": "submit", "doc": doc, "version": 4, "seq": 4, "op": [99, "z"]})
    assert (await alice.expect_type("error"))["code"] == "op_mismatch"
    async with http.get(server.make_url(f"/v1/docs/{doc}")) as response:
        assert response.status == 200
    async with http.get(server.make_url("/v1/docs/no-such-doc-9c1e")) as response:
        assert response.status == 404
    async with http.get(server.make_url("/no/such/route/5d2b")) as response:
        assert response.status == 404

    text, samples = await scrape_until(
        http, server, lambda s: value(s, "coedit_time_to_consistency_seconds_count") >= 4
    )
    assert value(samples, "coedit_ops_committed_total") == 4
    await scrape_until(  # the loop lag probe reports ten times a second
        http, server, lambda s: value(s, "coedit_event_loop_lag_seconds_count") > 0
    )
    assert value(samples, "coedit_ops_rejected_total", code="op_mismatch") == 1
    assert value(samples, "coedit_ack_latency_seconds_count") == 4
    assert value(samples, "coedit_commit_latency_seconds_count") == 4
    assert value(samples, "coedit_op_transforms_count") == 4
    assert value(samples, "coedit_op_transforms_sum") == 3  # bob's op was 3 versions behind
    assert value(samples, "coedit_storage_batch_appends_count") >= 4
    assert value(samples, "coedit_connections") == 2
    assert value(samples, "coedit_open_documents") == 1
    assert value(samples, "process_resident_memory_bytes") > 0
    doc_route = {"method": "GET", "route": "/v1/docs/{doc}"}
    assert value(samples, "coedit_http_requests_total", **doc_route, status="200") == 1
    assert value(samples, "coedit_http_requests_total", **doc_route, status="404") == 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(samples, "coedit_http_requests_total", **unmatched) == 1
    for secret in (doc, "no-such-doc", "5d2b", "alice-m", "bob-m"):
        assert secret not in text


async def test_each_app_counts_only_its_own_traffic(
    start_server: ServerFactory, http: aiohttp.ClientSession
) -> None:
    first, second = await start_server(), await start_server()
    body = {"client": "rest-1", "seq": 1, "version": 0, "op": ["hello"]}
    async with http.post(first.make_url("/v1/docs/d/ops"), json=body) as response:
        assert response.status == 200
    _, samples = await scrape(http, first)
    assert value(samples, "coedit_ops_committed_total") == 1
    _, samples = await scrape(http, second)
    assert value(samples, "coedit_ops_committed_total") == 0


async def test_slow_consumer_close_is_counted(
    start_server: ServerFactory, settings, http: aiohttp.ClientSession
) -> None:
    # A send buffer of one byte: the very first reply (welcome) overflows it.
    server = await start_server(limits=replace(Limits(), max_send_buffer=1))
    client = await WsClient.connect(http, str(server.make_url("/v1/ws")))
    await client.send({"type": "hello", "protocol": 1, "client": "slow"})
    assert await client.wait_closed() == 4008
    _, samples = await scrape_until(
        http, server, lambda s: value(s, "coedit_slow_consumers_closed_total") == 1
    )
    assert value(samples, "coedit_http_requests_total", method="GET", route="/v1/ws", status="101")


async def test_request_id_is_echoed_or_made(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.make_url("/healthz"), headers={"X-Request-Id": "abc-123"}) as r:
        assert r.headers["X-Request-Id"] == "abc-123"
    async with http.get(server.make_url("/healthz"), headers={"X-Request-Id": "bad id\t"}) as r:
        made = r.headers["X-Request-Id"]
    assert made != "bad id\t" and len(made) == 16
    async with http.get(server.make_url("/v1/docs/absent")) as r:
        assert r.status == 404 and len(r.headers["X-Request-Id"]) == 16
    async with http.ws_connect(server.make_url("/v1/ws"), headers={"X-Request-Id": "ws-1"}) as ws:
        assert ws._response.headers["X-Request-Id"] == "ws-1"


def test_loop_histogram_renders_like_a_prometheus_histogram() -> None:
    registry = CollectorRegistry()
    loop = LoopMetrics(registry)
    histogram = loop.histogram("t_seconds", "test", (0.1, 1.0))
    counter = loop.counter("t_things", "test")
    loop.register()
    histogram.observe(0.1)  # on a bound: counts as <= 0.1
    histogram.observe_many([0.5, 7.0])
    counter.inc(3)
    samples = {
        (s.name, s.labels.get("le")): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert samples[("t_seconds_bucket", "0.1")] == 1
    assert samples[("t_seconds_bucket", "1.0")] == 2
    assert samples[("t_seconds_bucket", "+Inf")] == 3
    assert samples[("t_seconds_count", None)] == 3
    assert samples[("t_seconds_sum", None)] == pytest.approx(7.6)
    assert samples[("t_things_total", None)] == 3
