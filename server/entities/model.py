"""The values the entities API passes around: records, writes and stored responses. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Record:
    """One record's latest state. A deleted record is a tombstone: ``deleted`` and no ``data``.

    ``field_versions`` maps each top-level field to the version that last changed it (used to
    report conflicts); ``seq`` is the change-feed position of the record's latest change.
    """

    collection: str
    id: str
    version: int
    updated_at: float
    deleted: bool
    data: dict[str, Any] | None
    field_versions: dict[str, int] = field(default_factory=dict)
    owner: str | None = None
    client: str | None = None
    seq: int = 0

    @property
    def live(self) -> bool:
        """True unless the record is a tombstone."""
        return not self.deleted

    @property
    def etag(self) -> str:
        """The HTTP entity tag: the version, quoted."""
        return f'"{self.version}"'

    def to_json(self) -> dict[str, Any]:
        """The wire form ``{collection, id, version, updated_at, deleted, data}``."""
        return {
            "collection": self.collection,
            "id": self.id,
            "version": self.version,
            "updated_at": self.updated_at,
            "deleted": self.deleted,
            "data": self.data,
        }


class Kind(StrEnum):
    """What a write does."""

    PUT = "put"  # replace data (or create)
    PATCH = "patch"  # JSON Merge Patch plus field operators (or create from {})
    DELETE = "delete"  # leave a tombstone


@dataclass(frozen=True, slots=True)
class Write:
    """One write, from a REST request or an item of a batch.

    ``if_match``/``if_none_match`` are preconditions (``If-Match: "v"``, ``If-None-Match: *``);
    ``base_version`` is no precondition, only the version the client last saw, so that conflicts
    resolved by merge policies can be reported. ``trusted`` writes come from the server itself
    and may write server fields.
    """

    kind: Kind
    collection: str
    id: str
    body: dict[str, Any] | None = None
    if_match: int | None = None
    if_none_match: bool = False
    base_version: int | None = None
    key: str | None = None
    client: str | None = None
    trusted: bool = False

    @property
    def has_precondition(self) -> bool:
        """True if the write is conditional on the record's state."""
        return self.if_match is not None or self.if_none_match

    def fingerprint(self) -> str:
        """A digest of everything that defines the write's effect: a reused idempotency key
        with a different fingerprint is a different request (``idempotency_key_reused``)."""
        canonical = orjson.dumps(
            [
                self.kind.value,
                self.collection,
                self.id,
                self.body,
                self.if_match,
                self.if_none_match,
                self.base_version,
            ],
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class Response:
    """A write's answer as it is stored for idempotent replay: status, JSON body, ETag."""

    status: int
    body: dict[str, Any]
    etag: str | None = None

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300

    def encode(self) -> bytes:
        """Serialised for the idempotency table."""
        return orjson.dumps({"status": self.status, "body": self.body, "etag": self.etag})

    @classmethod
    def decode(cls, raw: bytes | str) -> Response:
        """The inverse of ``encode``."""
        value = orjson.loads(raw)
        return cls(value["status"], value["body"], value["etag"])


@dataclass(frozen=True, slots=True)
class Decision:
    """What a write does to one record: its answer and, if it commits, the new state.

    ``lost_access`` names who can no longer read the record after this write (its previous
    owner, or ``"*"`` for everyone but the new owner); ``conflicts`` counts the conflicts a
    merge policy resolved.
    """

    response: Response
    record: Record | None = None
    lost_access: str | None = None
    conflicts: int = 0


EVERYONE = "*"
