"""Access control state in PostgreSQL, in the op log's database and schema (``auth_*`` tables),
so that every server process of a cluster sees the same access lists and one audit log."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import asyncpg

from server.auth.acl import AccessList, Resource
from server.auth.events import AuditEntry
from server.auth.store._codec import decode_acl, decode_entry, encode_acl, encode_entry
from server.auth.store.base import AclChange
from server.storage import StorageError

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
_AUDIT_COLUMNS = 'id, "time", kind, "user", remote, object_kind, object_id, detail'


class PostgresAuthStore:
    """An ``AuthStore`` in PostgreSQL, safe for many server processes at once."""

    def __init__(self, dsn: str, *, schema: str = "public", pool_max: int = 4) -> None:
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(f"schema must be a plain identifier, got {schema!r}")
        self._dsn = dsn
        self._schema = f'"{schema}"'
        self._audit_lock = f"{schema}.auth_audit append"  # an advisory lock key (see append_audit)
        self._pool_max = pool_max
        self._pool: Any = None

    async def open(self) -> None:
        with _errors("connect"):
            self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=self._pool_max)
            async with self._pool.acquire() as conn, conn.transaction():
                # CREATE ... IF NOT EXISTS races in the catalog when several processes start.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", "coedit-auth")
                await conn.execute(_schema(self._schema))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with _errors("close"):
                await pool.close()

    async def get_acl(self, resource: Resource) -> AccessList | None:
        with _errors("read an access list"):
            body = await self._require().fetchval(
                f"SELECT body FROM {self._schema}.auth_acl WHERE kind = $1 AND id = $2",
                resource.kind.value,
                resource.id,
            )
        return decode_acl(body)

    async def update_acl(self, resource: Resource, change: AclChange) -> AccessList | None:
        table = f"{self._schema}.auth_acl"
        with _errors("update an access list"):
            async with self._require().acquire() as conn, conn.transaction():
                # One lock per object, held to commit: concurrent changes apply one after another,
                # including the first, which has no row to lock yet.
                key = f"coedit-acl:{resource.kind.value}:{resource.id}"
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
                args = (resource.kind.value, resource.id)
                current = decode_acl(
                    await conn.fetchval(
                        f"SELECT body FROM {table} WHERE kind = $1 AND id = $2", *args
                    )
                )
                changed = change(current)
                if changed is None or changed == current:
                    return current
                await conn.execute(
                    f"INSERT INTO {table} (kind, id, body, updated_at) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body, "
                    "updated_at = excluded.updated_at",
                    *args,
                    encode_acl(changed),
                    time.time(),
                )
                return changed

    async def bind_client(self, doc_id: str, client_id: str, user: str) -> str:
        table = f"{self._schema}.auth_client_bindings"
        with _errors("bind a client id"):
            async with self._require().acquire() as conn, conn.transaction():
                await conn.execute(
                    f'INSERT INTO {table} (doc_id, client_id, "user", bound_at) '
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (doc_id, client_id) DO NOTHING",
                    doc_id,
                    client_id,
                    user,
                    time.time(),
                )
                bound = await conn.fetchval(
                    f'SELECT "user" FROM {table} WHERE doc_id = $1 AND client_id = $2',
                    doc_id,
                    client_id,
                )
        return str(bound)

    async def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Append in id order = commit order across processes: ids come from a sequence, and
        without the lock two processes could commit ids 8 then 7, so that a reader between the
        two commits moves its cursor past 7 and never sees it. The lock (held to the commit, one
        batch per process at a time) makes every batch draw its ids after the previous one is
        visible."""
        rows = [encode_entry(entry) for entry in entries]
        with _errors("append to the audit log"):
            async with self._require().acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._audit_lock)
                await conn.executemany(
                    f"INSERT INTO {self._schema}.auth_audit "
                    '("time", kind, "user", remote, object_kind, object_id, detail) '
                    "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    rows,
                )

    async def prune_audit(self, before: float, limit: int) -> int:
        """Delete the oldest entries before ``before``, up to ``limit`` (the newest is kept, as
        the interface asks, though the sequence would not reuse its id)."""
        table = f"{self._schema}.auth_audit"
        with _errors("prune the audit log"):
            status = await self._require().execute(
                f'DELETE FROM {table} WHERE "time" < $1 AND id IN (SELECT id FROM {table} '
                f"WHERE id < (SELECT max(id) FROM {table}) ORDER BY id LIMIT $2)",
                before,
                limit,
            )
        return int(status.rsplit(" ", 1)[-1])

    async def read_audit(
        self, resource: Resource | None, after: int, limit: int
    ) -> list[AuditEntry]:
        table = f"{self._schema}.auth_audit"
        with _errors("read the audit log"):
            if resource is None:
                rows = await self._require().fetch(
                    f"SELECT {_AUDIT_COLUMNS} FROM {table} WHERE id > $1 ORDER BY id LIMIT $2",
                    after,
                    limit,
                )
            else:
                rows = await self._require().fetch(
                    f"SELECT {_AUDIT_COLUMNS} FROM {table} WHERE object_kind = $1 "
                    "AND object_id = $2 AND id > $3 ORDER BY id LIMIT $4",
                    resource.kind.value,
                    resource.id,
                    after,
                    limit,
                )
        return [decode_entry(tuple(row)) for row in rows]

    def _require(self) -> Any:
        if self._pool is None:
            raise StorageError("PostgreSQL auth store is not open")
        return self._pool


def _schema(schema: str) -> str:
    return f"""
    CREATE SCHEMA IF NOT EXISTS {schema};
    CREATE TABLE IF NOT EXISTS {schema}.auth_acl (
        kind       text NOT NULL,
        id         text NOT NULL,
        body       text NOT NULL,
        updated_at double precision NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE TABLE IF NOT EXISTS {schema}.auth_client_bindings (
        doc_id    text NOT NULL,
        client_id text NOT NULL,
        "user"    text NOT NULL,
        bound_at  double precision NOT NULL,
        PRIMARY KEY (doc_id, client_id)
    );
    CREATE TABLE IF NOT EXISTS {schema}.auth_audit (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        "time"      double precision NOT NULL,
        kind        text NOT NULL,
        "user"      text,
        remote      text,
        object_kind text,
        object_id   text,
        detail      text NOT NULL
    );
    CREATE INDEX IF NOT EXISTS auth_audit_object
        ON {schema}.auth_audit (object_kind, object_id, id);
    """


@contextmanager
def _errors(action: str) -> Iterator[None]:
    try:
        yield
    except _DRIVER_ERRORS as exc:
        raise StorageError(f"PostgreSQL auth store could not {action}: {exc}") from exc
