"""What ``coedit edit`` does: fetch the text, let the user change it in ``$EDITOR``, submit the
difference as one op against the version fetched (the server rebases it past edits made in the
meantime, so nobody's concurrent work is overwritten)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shlex
import subprocess
import tempfile
from pathlib import Path

import aiohttp

from clients.python.diff import diff
from clients.python.errors import CoeditError
from clients.python.rest import RestClient, Snapshot


def edit(url: str, doc: str, *, token: str | None = None) -> str:
    """Run one edit session; returns what happened, in words."""
    snapshot = asyncio.run(_fetch(url, doc, token))
    new_text = edit_in_editor(snapshot.text, doc)
    if new_text == snapshot.text:
        return f"no changes to {doc!r}"
    version, merged = asyncio.run(_submit(url, doc, token, snapshot, new_text))
    news = f"; merged with {merged} change(s) made meanwhile" if merged else ""
    return f"saved {doc!r} as version {version}{news}"


def editor_command() -> list[str]:
    """The user's editor: ``$EDITOR``, else ``$VISUAL``, else ``vi`` (may carry arguments)."""
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    return shlex.split(editor)


def edit_in_editor(text: str, name: str) -> str:
    """Write ``text`` to a temporary file, run the editor on it, return what it holds after.

    The file is read and written as UTF-8 with line endings untouched, so that the only
    differences are the user's.
    """
    suffix = "-" + re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60] + ".txt"
    with tempfile.TemporaryDirectory(prefix="coedit-") as directory:
        path = Path(directory) / ("doc" + suffix)
        path.write_text(text, encoding="utf-8", newline="")
        try:
            result = subprocess.run([*editor_command(), str(path)], check=False)
        except FileNotFoundError as exc:
            raise CoeditError(f"cannot run the editor {exc.filename!r}; set $EDITOR") from exc
        if result.returncode != 0:
            raise CoeditError(f"the editor exited with status {result.returncode}; nothing saved")
        with path.open(encoding="utf-8", newline="") as file:
            return file.read()


async def _fetch(url: str, doc: str, token: str | None) -> Snapshot:
    async with aiohttp.ClientSession() as session:
        snapshot = await RestClient(session, url, token=token).document(doc)
    return snapshot or Snapshot("", 0)  # a new document starts empty


async def _submit(
    url: str, doc: str, token: str | None, base: Snapshot, text: str
) -> tuple[int, int]:
    """Commit the edit once (a fresh client id, seq 1, retried with both on failure); returns
    the committed version and how many ops it was rebased past."""
    client = f"cli-{secrets.token_hex(8)}"
    async with aiohttp.ClientSession() as session:
        rest = RestClient(session, url, token=token)
        committed = await rest.submit(
            doc, client=client, seq=1, version=base.version, op=diff(base.text, text)
        )
    return committed.version, committed.version - base.version - 1
