"""Persistence of access lists, client-id bindings and the audit log: interface and adapters."""

from __future__ import annotations

from server.auth.store.base import AclChange, AuthStore
from server.config import Settings


def open_auth_store(settings: Settings) -> AuthStore:
    """PostgreSQL beside the op log when the op log is in PostgreSQL, else SQLite ``auth.db``."""
    url = settings.database_url
    if url and url.startswith(("postgres://", "postgresql://")):
        from server.auth.store.postgres import PostgresAuthStore

        return PostgresAuthStore(url)
    from server.auth.store.sqlite import SqliteAuthStore

    return SqliteAuthStore(settings.data_dir / "auth.db", synchronous=settings.sqlite_synchronous)


__all__ = ["AclChange", "AuthStore", "open_auth_store"]
