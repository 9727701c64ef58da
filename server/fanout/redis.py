"""Fan-out over Redis pub/sub (redis-py's ``redis.asyncio``): one channel per open document.

Publishing never blocks a commit: notices go to a queue that a background task drains,
keeping only the newest version per document when they pile up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.fanout.base import RemoteCommit

log = logging.getLogger(__name__)

_RECONNECT_SECONDS = 1.0


class RedisFanOut:
    """Commit notices on channels ``{prefix}{doc id}``; a process ignores its own."""

    def __init__(self, url: str, *, prefix: str = "coedit:doc:") -> None:
        self._url = url
        self._prefix = prefix
        self._node = uuid.uuid4().hex
        self._redis: aioredis.Redis | None = None
        self._pubsub: aioredis.client.PubSub | None = None
        self._on_remote: RemoteCommit | None = None
        self._outgoing: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._watched: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, on_remote_commit: RemoteCommit) -> None:
        """Connect to Redis and start the publisher and listener tasks."""
        self._on_remote = on_remote_commit
        self._redis = aioredis.from_url(self._url)
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # a pattern nobody publishes to keeps the listener's connection subscribed from the start
        await self._pubsub.subscribe(f"{self._prefix}\x00idle")
        self._tasks = [asyncio.create_task(self._publisher()), asyncio.create_task(self._listen())]

    async def close(self) -> None:
        """Stop the tasks and disconnect."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed by newer redis-py
        if self._redis is not None:
            await self._redis.aclose()

    def watch(self, doc_id: str) -> None:
        """Subscribe to the document's channel."""
        if doc_id not in self._watched:
            self._watched.add(doc_id)
            self._spawn_command("subscribe", doc_id)

    def unwatch(self, doc_id: str) -> None:
        """Unsubscribe from the document's channel."""
        if doc_id in self._watched:
            self._watched.discard(doc_id)
            self._spawn_command("unsubscribe", doc_id)

    def publish(self, doc_id: str, version: int) -> None:
        """Queue a notice; only the newest version per document is sent."""
        if version > self._outgoing.get(doc_id, 0):
            self._outgoing[doc_id] = version
        self._wake.set()

    def _spawn_command(self, command: str, doc_id: str) -> None:
        if self._pubsub is not None:
            task = asyncio.create_task(self._change(command, self._prefix + doc_id))
            task.add_done_callback(_log_failure)

    async def _change(self, command: str, channel: str) -> None:
        assert self._pubsub is not None
        if command == "subscribe":
            await self._pubsub.subscribe(channel)
        else:
            await self._pubsub.unsubscribe(channel)

    async def _publisher(self) -> None:
        assert self._redis is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            outgoing, self._outgoing = self._outgoing, {}
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for doc_id, version in outgoing.items():
                        notice = orjson.dumps({"node": self._node, "version": version})
                        pipe.publish(self._prefix + doc_id, notice)
                    await pipe.execute()
            except RedisError as exc:
                log.warning("publishing %d commit notices failed: %s", len(outgoing), exc)
                await asyncio.sleep(_RECONNECT_SECONDS)

    async def _listen(self) -> None:
        assert self._pubsub is not None
        while True:
            try:
                async for message in self._pubsub.listen():
                    self._receive(message)
            except RedisError as exc:
                log.warning("listening for commit notices failed: %s; retrying", exc)
                await asyncio.sleep(_RECONNECT_SECONDS)

    def _receive(self, message: dict[str, object]) -> None:
        if message.get("type") != "message" or self._on_remote is None:
            return
        channel = message["channel"]
        data = message["data"]
        if not isinstance(channel, bytes) or not isinstance(data, bytes):
            return
        try:
            notice = orjson.loads(data)
            version = int(notice["version"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignored a malformed commit notice on %r", channel)
            return
        if notice.get("node") != self._node:
            self._on_remote(channel.decode()[len(self._prefix) :], version)


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("redis subscription change failed: %s", task.exception())
