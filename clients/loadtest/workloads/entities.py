"""``entities``: devices sync records of one collection (docs/entities.md). Each device pushes its
outbox in batches (``POST /v1/batch``: PATCH writes that increment a counter field and stamp an
lww field with their intended time) and pulls the changes feed (``GET /v1/changes``, long poll).

Ack latency is a push's answer time from the batch's intended time; broadcast latency is how
long a write took to reach another device's pull. A share of pushes is sent twice with the same
idempotency keys: the second answer must be a replay, and must not count twice. At the end every
device's copy must equal the server's records, and every counter the number of increments the
server acknowledged.

The server must declare the collection (``--entities-config``), with ``count`` as a counter:
``{"collections": {"loadtest": {"fields": {"count": "counter"}}}}``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from clients.loadtest.options import LoadOptions
from clients.loadtest.part import PartEnv, client_id
from clients.loadtest.parts import LoadTestError
from clients.loadtest.stats import PartStats
from clients.loadtest.workloads.base import ParentEnv

PULL_WAIT_SECONDS = 5
PAGE = 1000


class EntitiesError(LoadTestError):
    """The server cannot run this workload (no such collection, no entities API)."""


@dataclass(slots=True)
class Device:
    """One device: its local copy of the collection, its cursor and its outbox numbering."""

    name: str
    rnd: random.Random
    records: dict[str, int] = field(default_factory=dict)  # id -> version
    cursor: str | None = None
    sent: int = 0
    last_batch: list[dict[str, Any]] | None = None


def documents(options: LoadOptions, run_id: str) -> list[str]:
    return []  # records are created by the first writes


async def run_part(env: PartEnv) -> None:
    plan, options = env.plan, env.options
    devices = [
        Device(client_id(plan.run_id, i), random.Random(f"{options.seed}-{i}"))
        for i in range(options.editors)
        if plan.owns(i)
    ]
    await _check_collection(env)
    for device in devices:
        await _pull_all(env, device)
    await env.rendezvous.wait()  # every device synced
    started = time.perf_counter()
    pushers = [asyncio.create_task(_push_loop(env, d, started)) for d in devices]
    pullers = [asyncio.create_task(_pull_loop(env, d)) for d in devices]
    await env.measure(started, settled=lambda: _finished(pushers))
    await asyncio.gather(*pushers)  # each finishes the push it has under way
    for puller in pullers:
        puller.cancel()
    await asyncio.gather(*pullers, return_exceptions=True)
    await env.rendezvous.wait()  # nobody writes any more
    for device in devices:
        await _pull_all(env, device)
    await _compare(env, devices)


async def after(env: ParentEnv, stats: PartStats) -> None:
    """Every counter must add up to the increments the server acknowledged, once each."""
    records = await _server_records(env.http, env.options)
    total = sum(int((data or {}).get("count", 0)) for _, data in records.values())
    acknowledged = int(stats.extra.get("increments", 0))
    stats.extra["server_count_total"] = total
    if total != acknowledged:
        stats.diverged.append(
            f"counters add up to {total} but the server acknowledged {acknowledged} increments"
        )


async def _finished(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for the tasks without cancelling them if this wait is cancelled (unlike gather)."""
    if tasks:
        await asyncio.wait(tasks)


# -- pushing ------------------------------------------------------------------------------------


async def _push_loop(env: PartEnv, device: Device, started: float) -> None:
    """Closed loop (next push after the answer), or open loop at ``rate / editors`` pushes per
    second with latency from each push's intended time."""
    options = env.options
    interval = None if options.rate is None else options.editors / options.rate
    intended = started + device.rnd.random() * (interval or 0.0)
    while True:
        if interval is not None:
            await asyncio.sleep(max(0.0, intended - time.perf_counter()))
        else:
            intended = time.perf_counter()
        if not env.gate.take():
            return
        await _push(env, device, intended)
        if device.last_batch is not None and device.rnd.random() < options.replay_share:
            await _replay(env, device)
        if interval is not None:
            intended += interval


async def _push(env: PartEnv, device: Device, intended: float) -> None:
    options, stats = env.options, env.stats
    micros = env.clock.micros(intended)
    writes = []
    for _ in range(options.batch):
        device.sent += 1
        writes.append({
            "op": "patch", "collection": options.collection,
            "id": f"r-{device.rnd.randrange(options.records)}",
            "idempotency_key": f"{device.name}-{device.sent}",
            "data": {"count": {"$inc": 1}, "t": micros, "by": device.name},
        })  # fmt: skip
    device.last_batch = writes
    stats.edits += len(writes)
    stats.submitted += 1
    results = await _post_batch(env, device, writes)
    now = time.perf_counter()
    stats.acks_total += 1
    if stats.in_window(now):
        stats.acked += 1
    for result in results:
        if result.get("result") != "ok":
            stats.errors[str(result.get("error", {}).get("code", result.get("status")))] += 1
            continue
        stats.extra["increments"] = stats.extra.get("increments", 0) + 1
        if stats.in_window(now):
            stats.acked_edits += 1
        if stats.in_window(intended):
            stats.ack.record(now - intended)


async def _replay(env: PartEnv, device: Device) -> None:
    """Resend the last batch as a lost answer would make a device do: all must be replays."""
    assert device.last_batch is not None
    results = await _post_batch(env, device, device.last_batch)
    replayed = sum(1 for r in results if r.get("replayed") is True)
    env.stats.extra["replayed_writes"] = env.stats.extra.get("replayed_writes", 0) + replayed
    if replayed != len(device.last_batch):
        env.stats.errors["replay_not_recognised"] += len(device.last_batch) - replayed


async def _post_batch(
    env: PartEnv, device: Device, writes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    url = f"{env.options.target.http_url}/v1/batch"
    headers = {"Coedit-Client": device.name}
    async with env.http.post(url, json={"writes": writes}, headers=headers) as response:
        if response.status != 200:
            env.stats.errors[f"http_{response.status}"] += len(writes)
            return []
        body = await response.json()
    results: list[dict[str, Any]] = body["results"]
    return results


# -- pulling ------------------------------------------------------------------------------------


async def _pull_loop(env: PartEnv, device: Device) -> None:
    """Long-poll the feed until cancelled, timing every other device's write to its arrival."""
    while True:
        await _pull(env, device, wait=PULL_WAIT_SECONDS)


async def _pull_all(env: PartEnv, device: Device) -> None:
    """Pull until the feed has nothing more for this device."""
    while await _pull(env, device, wait=0):
        pass


async def _pull(env: PartEnv, device: Device, *, wait: int) -> bool:
    """One pull; True if the feed said it has more."""
    options, stats = env.options, env.stats
    params = {"collections": options.collection, "limit": str(PAGE), "wait": str(wait)}
    if device.cursor is not None:
        params["since"] = device.cursor
    url = f"{options.target.http_url}/v1/changes"
    headers = {"Coedit-Client": device.name}
    async with env.http.get(url, params=params, headers=headers) as response:
        if response.status != 200:
            stats.errors[f"changes_http_{response.status}"] += 1
            return False
        body = await response.json()
    for change in body["changes"]:
        _apply(env, device, change)
    device.cursor = body["next_cursor"]
    return bool(body["has_more"])


def _apply(env: PartEnv, device: Device, change: dict[str, Any]) -> None:
    stats = env.stats
    if change.get("removed"):
        if "id" in change:
            device.records.pop(change["id"], None)
        else:
            device.records.clear()
        return
    device.records[change["id"]] = change["version"]
    stats.received += 1
    data = change.get("data") or {}
    micros = data.get("t")
    if data.get("by") == device.name or not isinstance(micros, int):
        return  # its own write, or not one of this run's
    if stats.window_start_us <= micros < stats.window_end_us:
        stats.broadcast.record(env.clock.since_micros(micros))


# -- checking -----------------------------------------------------------------------------------


async def _check_collection(env: PartEnv) -> None:
    options = env.options
    url = f"{options.target.http_url}/v1/changes"
    params = {"collections": options.collection, "limit": "1"}
    async with env.http.get(url, params=params) as response:
        if response.status != 200:
            raise EntitiesError(
                f"GET /v1/changes?collections={options.collection} answered {response.status}: "
                f"{(await response.text())[:200]}; start the server with --entities-config "
                f'declaring it, e.g. {{"collections": {{"{options.collection}": '
                '{"fields": {"count": "counter"}}}}'
            )


async def _compare(env: PartEnv, devices: list[Device]) -> None:
    records = await _server_records(env.http, env.options)
    server = {record_id: version for record_id, (version, _) in records.items()}
    for device in devices:
        env.stats.replicas += 1
        if device.records != server:
            missing = len(server.keys() - device.records.keys())
            stale = sum(1 for k, v in device.records.items() if server.get(k) != v)
            env.stats.diverged.append(
                f"{device.name}: {missing} records missing, {stale} stale or unknown"
            )


async def _server_records(
    http: Any, options: LoadOptions
) -> dict[str, tuple[int, dict[str, Any] | None]]:
    """Every live record of the collection: id -> (version, data)."""
    records: dict[str, tuple[int, dict[str, Any] | None]] = {}
    after: str | None = None
    url = f"{options.target.http_url}/v1/collections/{options.collection}/records"
    while True:
        params = {"limit": str(PAGE)} | ({"after": after} if after else {})
        async with http.get(url, params=params) as response:
            response.raise_for_status()
            body = await response.json()
        for record in body["records"]:
            records[record["id"]] = (record["version"], record["data"])
        if not body["has_more"]:
            return records
        after = body["next"]
