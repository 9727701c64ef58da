"""Server settings: one dataclass, filled from command-line flags and ``COEDIT_*`` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from server.auth.settings import AuthSettings
from server.entities.config import EntitiesConfig


def env(name: str, default: str = "") -> str:
    """The value of ``COEDIT_<name>``: every command-line flag's environment twin."""
    return os.environ.get(f"COEDIT_{name}", default)


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-message and per-connection limits; each breach has its own error code."""

    max_frame_bytes: int = 1 << 20
    max_op_chars: int = 262_144
    max_doc_chars: int = 4 << 20
    max_open_docs: int = 100
    max_send_buffer: int = 8 << 20

    def to_message(self) -> dict[str, int]:
        return {
            "max_frame_bytes": self.max_frame_bytes,
            "max_op_chars": self.max_op_chars,
            "max_doc_chars": self.max_doc_chars,
            "max_open_docs": self.max_open_docs,
        }


@dataclass(frozen=True, slots=True)
class HubSettings:
    """How the hub keeps documents in memory and in storage."""

    history_limit: int = 1000  # committed ops kept in memory per open document
    snapshot_every: int = 100  # store a snapshot after this many ops
    keep_ops: int = 0  # with each snapshot, drop stored ops but the newest this many (0: keep all)
    idle_seconds: float = 60.0  # evict an open document this long after its last subscriber left
    commit_retries: int = 10  # how often a commit that lost a version race is rebased and retried


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``coedit serve`` can be told."""

    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = Path("data")
    database_url: str | None = None  # postgresql://... ; None selects SQLite in data_dir
    redis_url: str | None = None  # redis://... ; fans commits out to the other server processes
    sqlite_synchronous: str = "FULL"
    limits: Limits = Limits()
    hub: HubSettings = HubSettings()
    heartbeat_seconds: float = 30.0
    broadcast_interval: float = 0.005  # a busy connection's relayed ops share a frame this long
    shutdown_timeout: float = 10.0
    # Seconds a new connection has to send its first request head: then it gets 408 and is
    # closed, so stalled or slowloris clients cannot hold sockets open. 0 switches it off.
    request_head_timeout: float = 10.0
    # PEM files: with both, the server speaks https and wss itself (docs/operations.md, TLS).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    auth: AuthSettings = field(default_factory=AuthSettings)  # no key source: dev mode
    entities: EntitiesConfig = field(default_factory=EntitiesConfig)  # docs/entities.md
