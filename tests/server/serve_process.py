"""Run ``coedit serve`` as a real child process: start it, wait until it serves, signal it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from yarl import URL

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0
_POLL = 0.05


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServeProcess:
    """One ``python -m server.cli serve`` process on a data directory."""

    def __init__(self, process: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.process = process
        self.url = URL(f"http://127.0.0.1:{port}")
        self.log = log
        self.output: list[str] = []
        self._drain: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, data_dir: Path, *args: str) -> ServeProcess:
        """Start the server and wait for its "listening" line and a healthy ``/healthz``."""
        port = free_port()
        log = data_dir.parent / f"serve-{port}.log"
        command = [sys.executable, "-m", "server.cli", "serve", "--port", str(port)]
        with log.open("wb") as stderr:
            process = await asyncio.create_subprocess_exec(
                *command,
                "--data-dir",
                str(data_dir),
                *args,
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        server = cls(process, port, log)
        await server._wait_until_serving()
        return server

    @property
    def ws_url(self) -> str:
        return str(self.url.with_scheme("ws") / "v1/ws")

    async def kill(self) -> int:
        """SIGKILL: no shutdown, no flush; whatever was acknowledged must already be durable."""
        self.process.send_signal(signal.SIGKILL)
        return await self.wait()

    async def terminate(self) -> int:
        """SIGTERM: the graceful shutdown."""
        self.process.send_signal(signal.SIGTERM)
        return await self.wait()

    async def wait(self) -> int:
        async with asyncio.timeout(TIMEOUT):
            code = await self.process.wait()
        if self._drain is not None:
            await self._drain
        return code

    async def stop(self) -> None:
        """Make sure the process is gone (test teardown)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.wait()

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    async def _wait_until_serving(self) -> None:
        assert self.process.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            line = (await self.process.stdout.readline()).decode()
            assert "listening" in line, f"no listening line: {line!r}\n{self.stderr()}"
            self._drain = asyncio.create_task(self._keep_reading())
            async with aiohttp.ClientSession() as http:
                for _ in range(int(TIMEOUT / _POLL)):  # a probe has no event to await
                    if await _healthy(http, self.url / "healthz"):
                        return
                    await asyncio.sleep(_POLL)
        raise AssertionError(f"/healthz never answered\n{self.stderr()}")

    async def _keep_reading(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:  # never let a full pipe block the server
            self.output.append(line.decode())


async def _healthy(http: aiohttp.ClientSession, url: URL) -> bool:
    try:
        async with http.get(url) as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:
        return False
