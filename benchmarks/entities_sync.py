"""Benchmark: delta sync of records over REST against a real ``coedit serve`` process.

Two questions, each timed in rounds (best round counts):

- **pull**: a device with no cursor pulls 100,000 changed records through ``GET /v1/changes``
  (pages of ``--page`` records, gzip as a normal HTTP client accepts it);
- **push**: a device uploads an outbox of 10,000 writes (counter increments, set adds, titles)
  through ``POST /v1/batch`` in batches of ``--batch`` writes, each with its idempotency key; and
  the same outbox again, which must replay entirely without changing anything.

The server runs in its own process (``coedit serve`` with SQLite in a temporary directory) so
client and server each get a core. Results are checked outside the timed regions: every record
arrives exactly once, every write is ok, counters add up. A failed check exits 1 with one line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

CONFIG = {
    "collections": {
        "items": {
            "schema": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "n": {"type": "integer"}},
            },
            "fields": {"n": "counter", "tags": "set"},
        }
    }
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fail(message: str) -> None:
    print(f"entities_sync: check failed: {message}", file=sys.stderr)
    sys.exit(1)


class Server:
    """``coedit serve`` in a subprocess on a free port, with a temporary data directory."""

    def __init__(self, synchronous: str) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="coedit-bench-")
        config = Path(self.dir.name) / "entities.json"
        config.write_text(json.dumps(CONFIG))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "server.cli", "serve", "--port", str(self.port),
            "--data-dir", str(Path(self.dir.name) / "data"), "--entities-config", str(config),
            "--sqlite-synchronous", synchronous, "--log-level", "WARNING",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    async def wait_ready(self, http: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                async with http.get(self.url + "/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        fail("the server did not become ready within 30 s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.dir.cleanup()


async def post_batch(http: aiohttp.ClientSession, url: str, writes: list[Any]) -> list[Any]:
    async with http.post(url + "/v1/batch", json={"writes": writes}) as response:
        body = await response.json()
        if response.status != 200:
            fail(f"batch answered {response.status}: {body}")
        return list(body["results"])


async def seed(http: aiohttp.ClientSession, url: str, records: int) -> float:
    started = time.perf_counter()
    for start in range(0, records, 1000):
        writes = [
            {"op": "put", "collection": "items", "id": f"r{i}",
             "data": {"title": f"record {i}", "n": 0, "tags": []}}
            for i in range(start, min(records, start + 1000))
        ]  # fmt: skip
        results = await post_batch(http, url, writes)
        if any(r["result"] != "ok" for r in results):
            fail("seeding failed")
    return time.perf_counter() - started


async def pull_all(http: aiohttp.ClientSession, url: str, page: int) -> tuple[float, int, set[str]]:
    cursor: str | None = None
    ids: set[str] = set()
    count = 0
    started = time.perf_counter()
    while True:
        params = {"limit": str(page)}
        if cursor:
            params["since"] = cursor
        async with http.get(url + "/v1/changes", params=params) as response:
            body = await response.json()
        count += len(body["changes"])
        ids.update(c["id"] for c in body["changes"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return time.perf_counter() - started, count, ids


def outbox(round_: int, writes: int, records: int) -> list[dict[str, Any]]:
    return [
        {"op": "patch", "collection": "items", "id": f"r{(i * 7919) % records}",
         "data": {"n": {"$inc": 1}, "tags": {"$add": [f"t{i % 5}"]}, "title": f"w{i}"},
         "idempotency_key": f"round{round_}-w{i}"}
        for i in range(writes)
    ]  # fmt: skip


async def push(
    http: aiohttp.ClientSession, url: str, writes: list[dict[str, Any]], batch: int
) -> tuple[float, list[Any]]:
    results: list[Any] = []
    started = time.perf_counter()
    for start in range(0, len(writes), batch):
        results.extend(await post_batch(http, url, writes[start : start + batch]))
    return time.perf_counter() - started, results


async def sum_counters(http: aiohttp.ClientSession, url: str) -> int:
    total = 0
    after = ""
    while True:
        params = {"limit": "1000", "after": after}
        async with http.get(url + "/v1/collections/items/records", params=params) as response:
            body = await response.json()
        total += int(sum(r["data"]["n"] for r in body["records"]))
        if not body["has_more"]:
            return total
        after = body["next"]


async def run(args: argparse.Namespace) -> None:
    server = Server(args.synchronous)
    timeout = aiohttp.ClientTimeout(total=300)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            await server.wait_ready(http)
            seconds = await seed(http, server.url, args.records)
            print(f"seeded {args.records:,} records in {seconds:.2f} s (batches of 1,000)")
            best_pull = float("inf")
            for round_ in range(1, args.rounds + 1):
                gc.collect()
                seconds, count, ids = await pull_all(http, server.url, args.page)
                if count != args.records or len(ids) != args.records:
                    fail(f"pulled {count} changes of {len(ids)} records, not {args.records}")
                best_pull = min(best_pull, seconds)
                print(f"pull round {round_}: {count:,} changes in {seconds:.2f} s "
                      f"({count / seconds:,.0f} changes/s)")  # fmt: skip
            best_push = best_replay = float("inf")
            for round_ in range(1, args.rounds + 1):
                writes = outbox(round_, args.writes, args.records)
                gc.collect()
                seconds, results = await push(http, server.url, writes, args.batch)
                if any(r["result"] != "ok" or r["replayed"] for r in results):
                    fail("a write of the outbox was not applied")
                replay_seconds, replays = await push(http, server.url, writes, args.batch)
                if not all(r["replayed"] for r in replays):
                    fail("a resent write was applied again instead of replayed")
                best_push, best_replay = min(best_push, seconds), min(best_replay, replay_seconds)
                print(f"push round {round_}: {len(writes):,} writes in {seconds:.2f} s "
                      f"({len(writes) / seconds:,.0f} writes/s); replay in {replay_seconds:.2f} s "
                      f"({len(writes) / replay_seconds:,.0f} writes/s)")  # fmt: skip
            total = await sum_counters(http, server.url)
            if total != args.writes * args.rounds:
                fail(f"counters add up to {total}, not {args.writes * args.rounds}")
            print(f"best pull: {args.records / best_pull:,.0f} changes/s ({best_pull:.2f} s); "
                  f"best push: {args.writes / best_push:,.0f} writes/s ({best_push:.2f} s); "
                  f"best replay: {args.writes / best_replay:,.0f} writes/s")  # fmt: skip
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records to pull")
    parser.add_argument("--writes", type=int, default=10_000, help="writes in the outbox")
    parser.add_argument("--page", type=int, default=1000, help="changes per pull page")
    parser.add_argument("--batch", type=int, default=500, help="writes per batch request")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (best counts)")
    parser.add_argument(
        "--synchronous", choices=["FULL", "NORMAL"], default="FULL",
        help="SQLite durability of the server (FULL: every commit fsynced)",
    )  # fmt: skip
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
