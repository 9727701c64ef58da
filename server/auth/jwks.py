"""Signing keys from a JWKS document, read from a file or fetched from the identity provider.

Keys are cached. A token whose ``kid`` is unknown triggers a refresh (the provider may have
rotated its keys), but at most one per ``refresh_seconds``, so a flood of tokens with made-up key
ids cannot turn coedit into a traffic amplifier against the provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import orjson
from jwt import PyJWK, PyJWKSet, PyJWKSetError, PyJWTError

from server.auth.settings import AuthSettings

log = logging.getLogger(__name__)

_FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


class KeySourceError(Exception):
    """No signing keys could be loaded at all (the file or the provider is unavailable)."""


class KeySource(Protocol):
    """Where asymmetric signing keys come from."""

    async def find(self, kid: str | None) -> PyJWK | None:
        """The key with this id (or the only key, when ``kid`` is None), or None."""

    async def close(self) -> None:
        """Release connections."""


Fetch = Callable[[], Awaitable[Any]]


class JwksCache:
    """A ``KeySource`` over any fetch function that returns a parsed JWKS document."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        origin: str,
        refresh_seconds: float = 60.0,
        max_age_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._origin = origin
        self._refresh_seconds = refresh_seconds
        self._max_age_seconds = max_age_seconds
        self._clock = clock
        self._keys: dict[str | None, PyJWK] | None = None
        self._attempted_at: float | None = None
        self._fetched_at = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self.fetches = 0  # successful loads, for tests and metrics

    async def find(self, kid: str | None) -> PyJWK | None:
        """The key for ``kid``; refreshes when the cache is empty, stale, or lacks ``kid``."""
        if self._keys is None or self._clock() - self._fetched_at >= self._max_age_seconds:
            await self._refresh_if_allowed()
        if self._keys is None:
            raise KeySourceError(f"no signing keys could be loaded from {self._origin}")
        key = self._lookup(kid)
        if key is None and await self._refresh_if_allowed():
            key = self._lookup(kid)
        return key

    async def close(self) -> None:
        if self._refreshing is not None:
            await asyncio.gather(self._refreshing, return_exceptions=True)

    def _lookup(self, kid: str | None) -> PyJWK | None:
        keys = self._keys or {}
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        return keys.get(kid)

    async def _refresh_if_allowed(self) -> bool:
        """Refresh unless one ran within ``refresh_seconds``; concurrent callers share one fetch."""
        if self._refreshing is None:
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self._refresh_seconds:
                return False
            self._attempted_at = now
            self._refreshing = asyncio.create_task(self._refresh())
            self._refreshing.add_done_callback(self._refreshed)
        await asyncio.shield(self._refreshing)
        return True

    def _refreshed(self, task: asyncio.Task[None]) -> None:
        if self._refreshing is task:
            self._refreshing = None

    async def _refresh(self) -> None:
        try:
            self._keys = _parse(await self._fetch())
        except (OSError, aiohttp.ClientError, TimeoutError, ValueError, PyJWTError) as exc:
            # Keep the keys we have: a provider outage must not lock every user out.
            log.warning("loading signing keys from %s failed: %s", self._origin, exc)
            return
        self._fetched_at = self._clock()
        self.fetches += 1
        log.info("loaded %d signing keys from %s", len(self._keys), self._origin)


def _parse(document: Any) -> dict[str | None, PyJWK]:
    """The signing keys of a JWKS document, by ``kid``; encryption keys are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS document must be a JSON object with a "keys" array')
    signing = [k for k in document["keys"] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    try:
        keys = PyJWKSet(signing).keys
    except PyJWKSetError as exc:
        raise ValueError(f"the JWKS document has no usable signing keys: {exc}") from exc
    return {key.key_id: key for key in keys}


def jwks_file(path: Path, settings: AuthSettings) -> JwksCache:
    """Keys from a JWKS file; rewriting the file rotates them (picked up on an unknown kid)."""

    async def read() -> Any:
        return orjson.loads(await asyncio.to_thread(path.read_bytes))

    return JwksCache(
        read,
        origin=str(path),
        refresh_seconds=settings.jwks_refresh_seconds,
        max_age_seconds=settings.jwks_max_age_seconds,
    )


class JwksUrl(JwksCache):
    """Keys fetched over HTTP(S) from the identity provider's ``jwks_uri``."""

    def __init__(self, url: str, settings: AuthSettings, **kwargs: Any) -> None:
        super().__init__(
            self._get,
            origin=url,
            refresh_seconds=settings.jwks_refresh_seconds,
            max_age_seconds=settings.jwks_max_age_seconds,
            **kwargs,
        )
        self._url = url
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        await super().close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get(self) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=_FETCH_TIMEOUT)
        async with self._session.get(self._url, raise_for_status=True) as response:
            return orjson.loads(await response.read())


def key_source(settings: AuthSettings) -> KeySource | None:
    """The key source the settings select, if any."""
    if settings.jwks_url is not None:
        return JwksUrl(settings.jwks_url, settings)
    if settings.jwks_file is not None:
        return jwks_file(settings.jwks_file, settings)
    return None
