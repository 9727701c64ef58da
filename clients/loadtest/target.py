"""Where the load goes: the server's base URL, checked to be this machine unless allowed.

A load test is a small denial-of-service attack; it must never hit someone else's server by a
typo. Every address the host name resolves to must be a loopback address.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit


class TargetRefused(Exception):
    """The target is not acceptable (not loopback without --allow-remote, or not a URL)."""


@dataclass(frozen=True, slots=True)
class Target:
    """The server under test: ``http_url`` for REST, ``ws_url`` for protocol v1."""

    http_url: str  # e.g. http://127.0.0.1:8765, no trailing slash
    ws_url: str  # e.g. ws://127.0.0.1:8765/v1/ws

    def doc_url(self, doc_id: str, suffix: str = "") -> str:
        return f"{self.http_url}/v1/docs/{doc_id}{suffix}"


def parse_target(url: str, *, allow_remote: bool) -> Target:
    """The target at ``url`` (``http://host:port``); refused unless the host is loopback or
    ``allow_remote`` is set."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"--url must look like http://127.0.0.1:8765, got {url!r}")
    if not allow_remote:
        _check_loopback(parts.hostname, parts.port)
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    return Target(
        http_url=base, ws_url=f"{ws_scheme}://{parts.netloc}{parts.path.rstrip('/')}/v1/ws"
    )


def _check_loopback(host: str, port: int | None) -> None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"cannot resolve {host!r}: {exc}") from exc
    addresses = {str(info[4][0]) for info in infos}
    remote = sorted(a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback)
    if remote:
        raise TargetRefused(
            f"{host} resolves to {', '.join(remote)}, which is not this machine; the load tester "
            "only targets loopback addresses unless given --allow-remote"
        )
