"""The REST side of protocol v1 for clients that do not hold a socket: read a document, submit
one op exactly once (retrying with the same client and seq)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp

from clients.python.backoff import Backoff
from clients.python.errors import ConnectionFailed, ServerError
from ot import TextOperation

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Snapshot:
    text: str
    version: int


@dataclass(frozen=True, slots=True)
class Committed:
    version: int
    duplicate: bool


class RestClient:
    """``GET /v1/docs/{doc}`` and ``POST /v1/docs/{doc}/ops`` against one server."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        token: str | None = None,
        backoff: Backoff | None = None,
        attempts: int = 5,
    ) -> None:
        self._session = session
        self._url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._backoff = backoff or Backoff(initial=0.2, maximum=5.0)
        self._attempts = attempts

    async def document(self, doc: str) -> Snapshot | None:
        """The document's text and version, or ``None`` if it does not exist."""
        status, body = await self.request("GET", f"/v1/docs/{doc}")
        if status == 404:
            return None
        raise_for(status, body)
        return Snapshot(str(body["text"]), int(body["version"]))

    async def submit(
        self, doc: str, *, client: str, seq: int, version: int, op: TextOperation
    ) -> Committed:
        """Commit ``op`` (made against ``version``), retrying transient failures with the same
        ``(client, seq)`` so that it is committed once however many attempts reach the server."""
        body = {"client": client, "seq": seq, "version": version, "op": op.to_json()}
        attempt = 0
        while True:
            last = attempt + 1 >= self._attempts
            try:
                status, answer = await self.request("POST", f"/v1/docs/{doc}/ops", body)
            except ConnectionFailed:
                if last:
                    raise
                status, answer = 503, {}
            if status in RETRY_STATUSES and not last:
                await asyncio.sleep(self._backoff.delay(attempt))
                attempt += 1
                continue
            raise_for(status, answer)
            return Committed(int(answer["version"]), bool(answer.get("duplicate")))

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One request; the status and the JSON object answered (``{}`` if none).
        ``ConnectionFailed`` when the server cannot be reached."""
        try:
            async with self._session.request(
                method,
                self._url + path,
                json=body,
                params=params,
                headers={**self._headers, **(headers or {})},
            ) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None  # not JSON (a proxy's error page): the status says enough
                return response.status, answer if isinstance(answer, dict) else {}
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ConnectionFailed(
                f"cannot reach the coedit server at {self._url} ({exc}); is it running? "
                "Set --url or COEDIT_URL"
            ) from exc


def raise_for(status: int, body: dict[str, Any]) -> None:
    """Raise the ``ServerError`` a non-200 answer carries."""
    if status == 200:
        return
    error = body.get("error")
    if isinstance(error, dict):
        raise ServerError.from_message(error, status)
    raise ServerError("http_error", f"the server answered HTTP {status}", status=status)
