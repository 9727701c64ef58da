"""Converting records to and from table rows; shared by the adapters. Pure."""

from __future__ import annotations

from typing import Any

import orjson

from server.entities.model import Record

# Column order of every SELECT of a record.
RECORD_COLUMNS = (
    "collection, id, version, seq, updated_at, deleted, data, field_versions, owner, client"
)


def record_from_row(row: Any) -> Record:
    """A ``Record`` from a row in ``RECORD_COLUMNS`` order (JSON as text or bytes)."""
    collection, record_id, version, seq, updated_at, deleted, data, versions, owner, client = row
    return Record(
        collection=collection,
        id=record_id,
        version=version,
        updated_at=updated_at,
        deleted=bool(deleted),
        data=None if data is None else orjson.loads(data),
        field_versions=orjson.loads(versions),
        owner=owner,
        client=client,
        seq=seq,
    )


def record_to_row(record: Record) -> tuple[Any, ...]:
    """The inverse of ``record_from_row``, JSON as text."""
    data = None if record.data is None else orjson.dumps(record.data).decode()
    return (
        record.collection,
        record.id,
        record.version,
        record.seq,
        record.updated_at,
        record.deleted,
        data,
        orjson.dumps(record.field_versions).decode(),
        record.owner,
        record.client,
    )
