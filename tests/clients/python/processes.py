"""Drive a replica process (``tests/clients/python/replica.py``) and kill it for real."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 15


class ReplicaProcess:
    """A child Python process running the client library on one document."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, url: str, doc: str, store: Path) -> ReplicaProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.clients.python.replica",
            url,
            doc,
            str(store),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def read(self) -> dict[str, Any]:
        """The next answer line (``AssertionError`` if the process ends first)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            line = await self.process.stdout.readline()
        assert line, f"the replica exited ({await self.process.wait()})"
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def command(self, cmd: str, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.read()

    async def edit(self, position: int, delete: int = 0, insert: str = "") -> dict[str, Any]:
        return await self.command("edit", position=position, delete=delete, insert=insert)

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, nothing the process could still do."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        async with asyncio.timeout(TIMEOUT):
            code = await self.process.wait()
        assert code in (-signal.SIGKILL, 0), code
