"""TLS at the front door: REST over https and the protocol over wss, on a real TLS socket with a
self-signed certificate; plain http on that port gets nowhere; bad settings are clear errors."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.config import Settings
from server.web.app import make_app
from server.web.listener import FrontDoorSite
from server.web.tls import server_context
from tests.server.serve_process import ROOT, free_port
from tests.server.wsclient import WsClient


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key: (cert, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert, key_file = directory / "cert.pem", directory / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key_file


@dataclass
class TlsServer:
    address: str  # host:port
    client_tls: ssl.SSLContext  # trusts the server's self-signed certificate


@pytest.fixture
async def tls_server(tmp_path: Path, settings: Settings) -> AsyncIterator[TlsServer]:
    cert, key = self_signed(tmp_path)
    runner = web.AppRunner(make_app(replace(settings, request_head_timeout=0.5)))
    await runner.setup()
    site = FrontDoorSite(runner, "127.0.0.1", 0, tls=server_context(cert, key))
    await site.start()
    yield TlsServer(f"127.0.0.1:{site.port}", ssl.create_default_context(cafile=cert))
    await runner.cleanup()


async def test_rest_and_the_protocol_run_over_tls(tls_server: TlsServer) -> None:
    connector = aiohttp.TCPConnector(ssl=tls_server.client_tls)
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(f"https://{tls_server.address}/healthz") as response:
            assert response.status == 200
        ws = await WsClient.connect(http, f"wss://{tls_server.address}/v1/ws", client_id="alice")
        try:
            assert (await ws.open("secret"))["type"] == "opened"
            await ws.send(
                {"type": "submit", "doc": "secret", "version": 0, "seq": 1, "op": ["over tls"]}
            )
            assert (await ws.expect_type("ack", seq=1))["version"] == 1
        finally:
            await ws.close()
        async with http.get(f"https://{tls_server.address}/v1/docs/secret") as response:
            assert (await response.json())["text"] == "over tls"


async def test_plain_http_on_a_tls_port_gets_no_answer(tls_server: TlsServer) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"http://{tls_server.address}/healthz") as response:
                await response.read()


async def test_a_client_that_does_not_trust_the_certificate_is_refused(
    tls_server: TlsServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(f"https://{tls_server.address}/healthz")


async def test_a_client_that_never_starts_the_handshake_is_cut_off(tls_server: TlsServer) -> None:
    """The request head's deadline (0.5 s here) bounds the TLS handshake too, not only the
    head that follows it: a silent client cannot hold a socket for asyncio's default 60 s."""
    host, port = tls_server.address.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
    finally:
        writer.close()


def test_files_that_do_not_load_are_a_clear_error(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    loads = r"cannot load the TLS certificate .*cert\.pem with the key .*missing\.pem"
    with pytest.raises(ValueError, match=loads):
        server_context(cert, tmp_path / "missing.pem")


def test_serve_wants_both_tls_files(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    serve = [sys.executable, "-m", "server.cli", "serve", "--port", str(free_port())]
    argv = [*serve, "--data-dir", str(tmp_path / "data"), "--tls-cert", str(cert)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "--tls-cert and --tls-key go together" in done.stderr
