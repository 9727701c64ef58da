"""Idempotency keys (IETF draft ``draft-ietf-httpapi-idempotency-key-header``): parsing the
header, and the in-process registry of keys whose first request is still running. Pure.

Keys are scoped to the user (two users' keys never meet) and stored with the write they
guarded, in the same transaction; see ``store.plan`` for replay and reuse decisions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from server.entities.errors import Code, EntityError

MAX_KEY_CHARS = 255
_KEY = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,255}")  # printable ASCII but '"' and '\'


def parse_key(value: str | None) -> str | None:
    """The key of an ``Idempotency-Key`` header: a Structured Field string (``"..."``); a bare
    token is accepted too. None without a header."""
    if value is None:
        return None
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not _KEY.fullmatch(text):
        raise EntityError(
            Code.INVALID_IDEMPOTENCY_KEY,
            f"Idempotency-Key must be a quoted string of 1-{MAX_KEY_CHARS} printable ASCII "
            'characters, e.g. Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"',
        )
    return text


class InFlight:
    """Keys whose first request is being processed in this process.

    A second request with the same key meanwhile gets ``409 idempotency_key_in_use`` instead of
    racing the first; once the first is done, the same key replays its stored answer. Across
    processes, the store serializes writers of one key, so the later one replays the earlier.
    """

    def __init__(self) -> None:
        self._running: set[tuple[str, str]] = set()

    def busy(self, scope: str, key: str) -> bool:
        """True while a request with this key is running."""
        return (scope, key) in self._running

    @contextmanager
    def holding(self, scope: str, keys: Iterable[str]) -> Iterator[None]:
        """Mark ``keys`` as running for the duration of the block (they must not be busy)."""
        held = {(scope, key) for key in keys}
        self._running |= held
        try:
            yield
        finally:
            self._running -= held


def in_use(key: str) -> EntityError:
    """The 409 answer for a key whose first request is still running."""
    return EntityError(
        Code.IDEMPOTENCY_KEY_IN_USE,
        f"a request with idempotency key {key!r} is still being processed; retry the same "
        "request later to get its answer",
    )
