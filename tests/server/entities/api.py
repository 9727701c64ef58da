"""A small client of the entities REST API for tests: one method per route, answers as
``(status, body, headers)``, and a pull loop that applies the changes feed to a local replica."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

TIMEOUT = aiohttp.ClientTimeout(total=60)


@dataclass
class Answer:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]

    @property
    def error(self) -> str | None:
        if isinstance(self.body, dict) and "error" in self.body:
            return str(self.body["error"]["code"])
        return None


@dataclass
class Replica:
    """A device's local copy: records by (collection, id), and its cursor."""

    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cursor: str | None = None

    def apply(self, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            collection = change["collection"]
            if change.get("removed") and "id" not in change:
                for key in [k for k in self.records if k[0] == collection]:
                    del self.records[key]
            elif change.get("removed") or change.get("deleted"):
                self.records.pop((collection, change["id"]), None)
            else:
                self.records[(collection, change["id"])] = change


class Api:
    def __init__(
        self, http: aiohttp.ClientSession, server: TestServer, *, token: str | None = None
    ) -> None:
        self.http = http
        self.server = server
        self.headers: dict[str, str] = {}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def as_user(self, token: str) -> Api:
        return Api(self.http, self.server, token=token)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        sent = {**self.headers, **(headers or {})}
        if json is not None:
            data = orjson.dumps(json)
            sent.setdefault("Content-Type", "application/json")
        async with self.http.request(
            method, self.url(path), data=data, headers=sent, params=params, timeout=TIMEOUT
        ) as response:
            raw = await response.read()
            body = orjson.loads(raw) if raw else None
            return Answer(response.status, body, response.headers)

    async def put(self, collection: str, record_id: str, data: Any, **headers: str) -> Answer:
        return await self.request(
            "PUT",
            f"/v1/collections/{collection}/records/{record_id}",
            json=data,
            headers=_headers(headers),
        )

    async def patch(self, collection: str, record_id: str, data: Any, **headers: str) -> Answer:
        return await self.request(
            "PATCH",
            f"/v1/collections/{collection}/records/{record_id}",
            json=data,
            headers=_headers(headers),
        )

    async def delete(self, collection: str, record_id: str, **headers: str) -> Answer:
        return await self.request(
            "DELETE",
            f"/v1/collections/{collection}/records/{record_id}",
            headers=_headers(headers),
        )

    async def get(self, collection: str, record_id: str, **headers: str) -> Answer:
        return await self.request(
            "GET", f"/v1/collections/{collection}/records/{record_id}", headers=_headers(headers)
        )

    async def changes(self, since: str | None = None, **params: Any) -> Answer:
        query = {k: str(v) for k, v in params.items() if k != "headers"}
        if since is not None:
            query["since"] = since
        return await self.request("GET", "/v1/changes", params=query, headers=params.get("headers"))

    async def batch(self, writes: list[dict[str, Any]], **options: Any) -> Answer:
        headers = options.pop("headers", None)
        return await self.request(
            "POST", "/v1/batch", json={"writes": writes, **options}, headers=headers
        )

    async def pull(self, replica: Replica, *, limit: int = 100, **params: Any) -> int:
        """Pull until ``has_more`` is false; returns the number of pages."""
        pages = 0
        while True:
            answer = await self.changes(replica.cursor, limit=limit, **params)
            assert answer.status == 200, answer.body
            replica.apply(answer.body["changes"])
            replica.cursor = answer.body["next_cursor"]
            pages += 1
            if not answer.body["has_more"]:
                return pages


def _headers(headers: dict[str, str]) -> dict[str, str]:
    """Python names to HTTP names: if_match -> If-Match, idempotency_key -> Idempotency-Key."""
    return {"-".join(p.capitalize() for p in k.split("_")): v for k, v in headers.items()}
