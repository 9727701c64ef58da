"""``coedit cat``, ``coedit edit`` and ``coedit watch`` as real processes against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

from clients.python.diff import diff
from ot import TextOperation, transform_against
from tests.clients.python.conftest import LiveServer, get_doc, op_log
from tests.clients.python.processes import ROOT

TIMEOUT = 20

# An $EDITOR for the tests: makes a concurrent change through REST while "the user edits", as
# a colleague would, then rewrites the file. The file must come back with the merge in mind.
EDITOR_SCRIPT = """
import json, os, sys, urllib.request
path = sys.argv[-1]
with open(path, encoding="utf-8", newline="") as f:
    text = f.read()
if os.environ.get("EDITOR_FAIL"):
    sys.exit(3)
concurrent = os.environ.get("EDITOR_CONCURRENT")
if concurrent:
    body = json.dumps({"client": "colleague", "seq": 1, "version": int(concurrent),
                       "op": ["<<"]}).encode()
    request = urllib.request.Request(os.environ["EDITOR_POST_URL"], body, method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
with open(path, "w", encoding="utf-8", newline="") as f:
    f.write(text.replace(os.environ["EDITOR_FIND"], os.environ["EDITOR_REPLACE"]))
"""


async def coedit(
    *args: str, env: dict[str, str] | None = None, stdin: bytes = b""
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT):
        out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def put_text(http: aiohttp.ClientSession, url: str, doc: str, text: str) -> None:
    body = {"client": "setup", "seq": 1, "version": 0, "op": [text]}
    async with http.post(f"{url}/v1/docs/{doc}/ops", json=body) as response:
        assert response.status == 200, await response.text()


async def test_cat_prints_the_text_exactly(live: LiveServer, http: aiohttp.ClientSession) -> None:
    await put_text(http, live.url, "c", "line one\nzwei 😀\n\nno newline at the end")
    code, out, err = await coedit("cat", "c", "--url", live.url)
    assert (code, out, err) == (0, "line one\nzwei 😀\n\nno newline at the end", "")


async def test_cat_takes_the_url_from_the_environment(
    live: LiveServer, http: aiohttp.ClientSession
) -> None:
    await put_text(http, live.url, "c", "x")
    assert await coedit("cat", "c", env={"COEDIT_URL": live.url}) == (0, "x", "")


async def test_cat_fails_with_one_line(live: LiveServer) -> None:
    code, out, err = await coedit("cat", "missing", "--url", live.url)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "'missing' does not exist" in err and "not_found" in err
    await live.stop()
    code, _, err = await coedit("cat", "missing", "--url", live.url)
    assert code == 1 and "cannot reach the coedit server" in err and err.count("\n") == 1


def editor_env(tmp_path: Path, find: str, replace: str, **extra: str) -> dict[str, str]:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR_SCRIPT)
    return {
        "EDITOR": f"{sys.executable} {script}",
        "EDITOR_FIND": find,
        "EDITOR_REPLACE": replace,
        **extra,
    }


async def test_edit_submits_the_difference_and_merges_concurrent_work(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await put_text(http, live.url, "e", "hello world\nsecond line\n")
    env = editor_env(
        tmp_path,
        "world\nsecond",
        "there\n2nd",
        EDITOR_CONCURRENT="1",
        EDITOR_POST_URL=f"{live.url}/v1/docs/e/ops",
    )
    code, out, err = await coedit("edit", "e", "--url", live.url, env=env)
    assert (code, out) == (0, "")
    assert err == "coedit: saved 'e' as version 3; merged with 1 change(s) made meanwhile\n"
    assert (await get_doc(http, live.url, "e"))["text"] == "<<hello there\n2nd line\n"
    [*_, ours] = await op_log(http, live.url, "e")
    assert str(ours["client"]).startswith("cli-") and ours["seq"] == 1
    edit = diff("hello world\nsecond line\n", "hello there\n2nd line\n")
    assert len(edit.components) > 3  # the unchanged middle is retained, not replaced
    assert ours["op"] == transform_against(edit, [TextOperation(["<<"])]).to_json()


async def test_edit_of_a_new_document_starts_empty(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    script = tmp_path / "write.py"
    script.write_text("import sys\nopen(sys.argv[1], 'w').write('fresh')\n")
    env = {"EDITOR": f"{sys.executable} {script}"}
    code, _, err = await coedit("edit", "new", "--url", live.url, env=env)
    assert (code, err) == (0, "coedit: saved 'new' as version 1\n")
    assert (await get_doc(http, live.url, "new"))["text"] == "fresh"


async def test_edit_without_changes_or_with_a_failing_editor_submits_nothing(
    live: LiveServer, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    await put_text(http, live.url, "n", "same")
    code, _, err = await coedit("edit", "n", "--url", live.url, env=editor_env(tmp_path, "x", "x"))
    assert (code, err) == (0, "coedit: no changes to 'n'\n")
    env = editor_env(tmp_path, "same", "other", EDITOR_FAIL="1")
    code, _, err = await coedit("edit", "n", "--url", live.url, env=env)
    assert code == 1
    assert err == "coedit: error: the editor exited with status 3; nothing saved\n"
    assert (await get_doc(http, live.url, "n"))["version"] == 1


class Watcher:
    """A running ``coedit watch`` process, read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, *args: str) -> Watcher:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server.cli",
            "watch",
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def line(self, stream: asyncio.StreamReader | None) -> str:
        assert stream is not None
        async with asyncio.timeout(TIMEOUT):
            line = await stream.readline()
        assert line, "coedit watch exited"
        return line.decode().rstrip("\n")

    async def out(self) -> str:
        return await self.line(self.process.stdout)

    async def err(self) -> str:
        return await self.line(self.process.stderr)

    async def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(TIMEOUT):
            return await self.process.wait()


async def test_watch_prints_changes_live(live: LiveServer, http: aiohttp.ClientSession) -> None:
    await put_text(http, live.url, "w", "hello")
    watcher = await Watcher.start("w", "--url", live.url)
    try:
        assert await watcher.err() == "coedit: watching 'w' at version 1; Ctrl-C to stop"
        body = {
            "client": "bob",
            "seq": 1,
            "version": 1,
            "op": [
                5,
                " world",
            ],
        }
        async with http.post(f"{live.url}/v1/docs/w/ops", json=body) as response:
            assert response.status == 200
        assert await watcher.out() == 'v2 bob: insert " world" at 5'
        body = {"client": "bob", "seq": 2, "version": 2, "op": [-6, 5, "!"]}
        async with http.post(f"{live.url}/v1/docs/w/ops", json=body) as response:
            assert response.status == 200
        assert await watcher.out() == 'v3 bob: delete 6 at 0; insert "!" at 11'
    finally:
        assert await watcher.interrupt() == 130


async def test_watch_json_and_reconnect(live: LiveServer, http: aiohttp.ClientSession) -> None:
    watcher = await Watcher.start("j", "--json", "--url", live.url)
    try:
        assert await watcher.err() == "coedit: watching 'j' at version 0; Ctrl-C to stop"
        await put_text(http, live.url, "j", "😀 hi")
        change = json.loads(await watcher.out())
        assert change == {
            "version": 1,
            "client": "setup",
            "user": None,
            "op": ["😀 hi"],
            "text": "😀 hi",
        }
        await live.stop()
        assert await watcher.err() == "coedit: offline; reconnecting"
        await live.start()
        assert await watcher.err() == "coedit: online"
        body = {"client": "setup", "seq": 2, "version": 1, "op": [1, "!"]}
        async with http.post(f"{live.url}/v1/docs/j/ops", json=body) as response:
            assert response.status == 200
        assert json.loads(await watcher.out())["text"] == "😀! hi"
    finally:
        assert await watcher.interrupt() == 130
