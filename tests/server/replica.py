"""A protocol v1 client that keeps a replica of one document over a real WebSocket.

It drives ``ot.Client`` (the ot.js state machine) exactly as a real client must: local edits go
through ``apply_client``, acks through ``server_ack``, remote ops through ``apply_server``. On a
reconnect it opens with the version it knows, takes its own ops in the catch-up (recognised by
client id and seq) as the acks it missed, and resubmits what is still unacknowledged with
``Client.resubmission()``. Every version it sees must follow the previous one: a gap or a
duplicate fails the replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp

from ot import Client, Submission, TextOperation
from tests.server.wsclient import Message, WsClient

TIMEOUT = 10.0


class ReplicaError(AssertionError):
    """The server sent something a correct server never sends to this replica."""


class Replica:
    """One client's copy of one document: text, OT state, and what the server acknowledged."""

    def __init__(self, client_id: str, doc: str) -> None:
        self.client_id = client_id
        self.doc = doc
        self.text = ""
        self.client = Client(0)
        self.acked: dict[int, int] = {}  # seq -> version of every own op known committed
        self.versions: list[int] = []  # every version applied since the (last) open, in order
        self.open_version: int | None = None  # the version the last ``opened`` reported
        self.sent = 0  # submissions sent, including resubmissions
        self.ws: WsClient | None = None
        self._changed = asyncio.Condition()
        self._pump: asyncio.Task[None] | None = None
        self._opened = False
        self.closed = False  # the socket closed under the replica
        self.failure: BaseException | None = None

    # -- connection ---------------------------------------------------------------------------

    async def attach(self, ws: WsClient) -> Message:
        """Open the document on a handshaken socket: fresh, or resuming from the known version.

        Returns the ``opened`` message, after the catch-up was applied and the in-flight op (if
        any) resubmitted.
        """
        self.ws, self.closed = ws, False
        message: Message = {"type": "open", "doc": self.doc}
        if self._opened:
            message["version"] = self.client.version
        await ws.send(message)
        opened = await ws.expect(lambda m: m.get("doc") == self.doc)
        if opened["type"] != "opened":
            raise ReplicaError(f"{self.client_id}: open failed: {opened}")
        self.versions = []
        self.open_version = opened["version"]
        if "text" in opened:
            if self._opened:
                raise ReplicaError("a resuming open must carry ops, not text")
            self.text, self.client = opened["text"], Client(opened["version"])
        else:
            for entry in opened["ops"]:
                self._remote(entry)
        if self.client.version != opened["version"]:
            raise ReplicaError(f"catch-up ended at {self.client.version}, not {opened['version']}")
        self._opened = True
        resubmission = self.client.resubmission()
        if resubmission is not None:
            await self._send(resubmission)
        self._pump = asyncio.create_task(self._run(ws))
        return opened

    async def stop_reading(self) -> None:
        """Leave what the server sends unread (so acks can be lost with the socket)."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None

    async def detach(self) -> None:
        """Stop reading and close the socket; unacknowledged ops stay in the OT state."""
        await self.stop_reading()
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    # -- editing ------------------------------------------------------------------------------

    async def edit(self, op: TextOperation) -> None:
        """Apply a local edit and send it if nothing else is in flight."""
        self.text = op.apply(self.text)
        submission = self.client.apply_client(op)
        if submission is not None:
            await self._send(submission)

    async def wait_until(
        self, predicate: Callable[[Replica], bool], within: float = TIMEOUT
    ) -> None:
        """Wait until ``predicate(self)`` holds; fail on a protocol violation or a timeout."""
        async with asyncio.timeout(within), self._changed:
            while not predicate(self):
                if self.failure is not None:
                    raise self.failure
                await self._changed.wait()

    async def synchronized(self, version: int | None = None, within: float = TIMEOUT) -> None:
        """Wait until nothing is pending (and the replica is at ``version``, if given)."""
        await self.wait_until(
            lambda r: (
                r.client.pending_count == 0 and (version is None or r.client.version == version)
            ),
            within,
        )

    # -- incoming -----------------------------------------------------------------------------

    async def _run(self, ws: WsClient) -> None:
        try:
            while True:
                message = await ws.expect(lambda m: m.get("doc") == self.doc, timeout=3600)
                submission = self._handle(message)
                if submission is not None:
                    await self._send(submission)
                async with self._changed:
                    self._changed.notify_all()
        except ReplicaError as exc:
            self.failure = exc
        except AssertionError:  # the socket closed: the ops in flight wait for a reconnect
            self.closed = True
        except Exception as exc:  # e.g. an op that does not fit the text: the replica diverged
            self.failure = exc
        async with self._changed:
            self._changed.notify_all()

    def _handle(self, message: Message) -> Submission | None:
        kind = message["type"]
        if kind == "ack":
            return self._ack(message["seq"], message["version"], message.get("duplicate", False))
        if kind == "op":
            return self._remote(message)
        if kind == "error":
            raise ReplicaError(f"{self.client_id}: server error {message}")
        return None  # presence, closed

    def _remote(self, entry: dict[str, Any]) -> Submission | None:
        """A committed op: our own in-flight one (a missed ack) or someone else's."""
        if entry["client"] == self.client_id and entry["seq"] == self.client.outstanding_seq:
            return self._ack(entry["seq"], entry["version"], False)
        if entry["client"] == self.client_id:
            raise ReplicaError(f"own op {entry} arrived but seq {entry['seq']} is not in flight")
        self._expect_next(entry["version"])
        op = self.client.apply_server(TextOperation.from_json(entry["op"]))
        self.text = op.apply(self.text)
        return None

    def _ack(self, seq: int, version: int, duplicate: bool) -> Submission | None:
        if duplicate and seq in self.acked:
            if self.acked[seq] != version:
                raise ReplicaError(
                    f"duplicate ack of seq {seq} at {version}, not {self.acked[seq]}"
                )
            return None  # we already learnt of this commit from the op stream
        if seq != self.client.outstanding_seq:
            raise ReplicaError(f"ack of seq {seq}, but {self.client.outstanding_seq} is in flight")
        self._expect_next(version)
        self.acked[seq] = version
        return self.client.server_ack()

    def _expect_next(self, version: int) -> None:
        if version != self.client.version + 1:
            raise ReplicaError(f"{self.client_id}: version {version} after {self.client.version}")
        self.versions.append(version)

    async def _send(self, submission: Submission) -> None:
        if self.ws is None:
            return
        self.sent += 1
        message = {
            "type": "submit",
            "doc": self.doc,
            "version": submission.base_version,
            "seq": submission.seq,
            "op": submission.op.to_json(),
        }
        # A dead socket loses the submission; it stays in flight and is resubmitted on attach.
        with contextlib.suppress(ConnectionError, aiohttp.ClientError, RuntimeError):
            await self.ws.send(message)
