"""TLS at the front door: with ``coedit serve --tls-cert FILE --tls-key FILE`` the server speaks
https and wss itself, for deployments without a reverse proxy to terminate TLS."""

from __future__ import annotations

import ssl
from pathlib import Path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context for the certificate chain in ``cert`` (PEM, the server's certificate
    first) and its private key in ``key``: TLS 1.2 or newer, Python's default ciphers, HTTP/1.1
    by ALPN. ``ValueError`` naming the files if they cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        message = f"cannot load the TLS certificate {cert} with the key {key}: {exc}"
        raise ValueError(message) from exc
    return context
