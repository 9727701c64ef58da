"""End-to-end tests of the browser client: the demo page at ``/`` in headless Chromium, driven by
Playwright, against the real server on a real socket.

Needs Debian's ``chromium`` (``apt-get install chromium``) and the ``playwright`` package (the
``test`` extra); never ``playwright install``. Without them the tests skip (fail in CI).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.config import Settings
from server.web.app import make_app
from tests.conftest import skip_or_fail
from tests.server.app_server import AppServer

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
WAIT_MS = 20_000

# True once the page's document is open on a live connection with nothing left to send.
SYNCED = """(version) => {
  const doc = window.coedit && window.coedit.doc;
  return !!doc && doc.isOpen && doc.pendingCount === 0 && window.coedit.client.state === "online"
    && (version === null || doc.version === version)
    && document.querySelector("#status").dataset.state === "online";
}"""


@dataclass
class Coedit:
    """The real app on a real socket; restartable on the same port and data directory."""

    settings: Settings
    port: int = 0
    server: TestServer | None = None
    token: str | None = None  # for the REST reads of a server with authentication

    async def start(self) -> None:
        self.server = AppServer(make_app(self.settings), host="127.0.0.1", port=self.port or None)
        await self.server.start_server()
        self.port = self.server.port or 0

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def document(self, doc: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{self.url}/v1/docs/{doc}", headers=headers) as response,
        ):
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
            return body


@dataclass
class Person:
    """One person at the demo page, in their own browser context (own storage, own network)."""

    name: str
    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)

    async def value(self) -> str:
        return await self.page.input_value("#text")

    async def synced(self, version: int | None = None) -> None:
        await self.page.wait_for_function(SYNCED, arg=version, timeout=WAIT_MS)


@pytest.fixture
async def coedit(tmp_path: Path) -> AsyncIterator[Coedit]:
    settings = Settings(
        data_dir=tmp_path / "data", sqlite_synchronous="NORMAL", heartbeat_seconds=5
    )
    app = Coedit(settings)
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        skip_or_fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        skip_or_fail("the playwright package is missing: pip install 'playwright>=1.40'")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


async def arrive(browser: Browser, coedit: Coedit, doc: str, name: str, color: str) -> Person:
    """Open the demo page on ``doc`` as ``name`` and wait until it is online and synced."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    profile = {"coedit.name": name, "coedit.color": color}
    await context.add_init_script(
        f"for (const [k, v] of Object.entries({json.dumps(profile)})) localStorage.setItem(k, v);"
    )
    page = await context.new_page()
    person = Person(name, context, page)
    page.on("pageerror", lambda error: person.problems.append(f"page error: {error}"))
    page.on("console", lambda m: person.problems.extend(_console_problems(m.type, m.text)))
    await page.goto(f"{coedit.url}/#{doc}")
    await person.synced()
    return person


def _console_problems(kind: str, text: str) -> list[str]:
    """Console errors, except Chromium's own report of a failed reconnect attempt."""
    if kind != "error" or text.startswith("WebSocket connection to "):
        return []
    return [f"console.{kind}: {text}"]


async def converge(coedit: Coedit, doc: str, *people: Person) -> str:
    """Wait until every page shows the server's text at the server's version; return the text."""
    for person in people:
        await person.synced()
    snapshot = await coedit.document(doc)
    for person in people:
        await person.synced(snapshot["version"])
        assert await person.value() == snapshot["text"], f"{person.name} diverged"
        assert not person.problems, person.problems
    text: str = snapshot["text"]
    text.encode("utf-8")  # a lone surrogate (half an emoji) would not encode
    return text


async def test_two_pages_type_at_once_with_emoji_and_converge(browser, coedit) -> None:
    doc = "e2e-together"
    alice = await arrive(browser, coedit, doc, "Alice", "#e5484d")
    bob = await arrive(browser, coedit, doc, "Bob", "#0090ff")
    await alice.page.click("#text")
    await alice.page.keyboard.type("\n")
    await converge(coedit, doc, alice, bob)

    first = "Alice 😀 was here, 👨‍👩‍👧 too"
    second = "Bob 👍🏽 🇺🇸 中文 \U0001d4b3 typed this"
    await alice.page.keyboard.press("Control+Home")
    await bob.page.click("#text")
    await bob.page.keyboard.press("Control+End")
    await asyncio.gather(
        alice.page.keyboard.type(first, delay=15),
        bob.page.keyboard.type(second, delay=15),
    )

    text = await converge(coedit, doc, alice, bob)
    assert text == f"{first}\n{second}"


async def test_browsers_python_clients_and_rest_submitters_converge(browser, coedit) -> None:
    """Every kind of client at once on one document: two pages typing, a Python client editing
    through its own connection, and a REST submitter posting ops against stale versions."""
    from clients.python import open_document
    from ot import TextOperation
    from tests.clients.python.conftest import FAST

    doc = "e2e-mixed"
    alice = await arrive(browser, coedit, doc, "Alice", "#e5484d")
    bob = await arrive(browser, coedit, doc, "Bob", "#0090ff")
    python = await open_document(coedit.url, doc, backoff=FAST)

    async def python_edits() -> None:
        for i in range(20):
            python.apply(TextOperation.from_edit(len(python.text) // 2, 0, f"py{i}🐍"))
            await python.flush()

    async def rest_edits() -> None:
        async with aiohttp.ClientSession() as http:
            for seq in range(1, 16):
                snapshot = await coedit.document(doc)
                op = TextOperation.from_edit(0, 0, f"r{seq}✉")
                body = {"client": "rest", "seq": seq, "version": snapshot["version"]}
                body["op"] = op.to_json()
                async with http.post(f"{coedit.url}/v1/docs/{doc}/ops", json=body) as response:
                    assert response.status == 200, await response.text()

    await alice.page.click("#text")
    await bob.page.click("#text")
    await bob.page.keyboard.press("Control+End")
    await asyncio.gather(
        alice.page.keyboard.type("Alice 😀 types", delay=20),
        bob.page.keyboard.type("Bob 👍🏽 types", delay=20),
        python_edits(),
        rest_edits(),
    )
    await python.wait_synced()
    text = await converge(coedit, doc, alice, bob)
    head = (await coedit.document(doc))["version"]
    await python.wait_for(lambda: python.version == head)
    assert python.text == text
    # nothing lost, nothing doubled (the edits interleave, so count rather than search)
    assert (text.count("🐍"), text.count("✉"), text.count("😀"), text.count("👍🏽")) == (
        20,
        15,
        1,
        1,
    )
    await python.close()


async def test_offline_page_keeps_typing_and_converges(browser, coedit) -> None:
    doc = "e2e-offline"
    alice = await arrive(browser, coedit, doc, "Alice", "#e5484d")
    bob = await arrive(browser, coedit, doc, "Bob", "#0090ff")
    await alice.page.click("#text")
    await alice.page.keyboard.type("shared line 🎉\n")
    await converge(coedit, doc, alice, bob)

    await bob.context.set_offline(True)
    await bob.page.wait_for_selector("#status[data-state=offline]", timeout=WAIT_MS)
    await bob.page.click("#text")
    await bob.page.keyboard.press("Control+End")
    await bob.page.keyboard.type("written offline 👍🏽")
    await alice.page.keyboard.type("online meanwhile 😀 ")
    pending = await bob.page.get_attribute("#pending", "data-count")
    assert pending is not None and int(pending) > 0
    assert await bob.value() == "shared line 🎉\nwritten offline 👍🏽"

    await bob.context.set_offline(False)
    text = await converge(coedit, doc, alice, bob)
    # Both typed at the start of line 2; Bob's op reached the server last, so it was rebased
    # with its insert first (the submitted op wins ties, docs/protocol.md).
    assert text == "shared line 🎉\nwritten offline 👍🏽online meanwhile 😀 "


async def test_pages_survive_a_server_restart(browser, coedit) -> None:
    doc = "e2e-restart"
    alice = await arrive(browser, coedit, doc, "Alice", "#e5484d")
    bob = await arrive(browser, coedit, doc, "Bob", "#0090ff")
    await alice.page.click("#text")
    await alice.page.keyboard.type("before 🇺🇸 ")
    await converge(coedit, doc, alice, bob)

    await coedit.stop()
    for person in (alice, bob):
        await person.page.wait_for_selector("#status[data-state=offline]", timeout=WAIT_MS)
    await alice.page.keyboard.type("while down 😀")
    await coedit.start()  # same port, same data directory

    text = await converge(coedit, doc, alice, bob)
    assert text == "before 🇺🇸 while down 😀"


async def test_presence_shows_the_other_cursor(browser, coedit, record_property, capsys) -> None:
    doc = "e2e-presence"
    alice = await arrive(browser, coedit, doc, "Alice", "#e5484d")
    bob = await arrive(browser, coedit, doc, "Bob", "#0090ff")
    await alice.page.click("#text")
    await alice.page.keyboard.type(
        "Meeting notes 📝\n- ship the browser client 🚀\n- write the docs\n- celebrate 🎉"
    )
    await converge(coedit, doc, alice, bob)
    await alice.page.keyboard.press("Control+Home")
    await alice.page.keyboard.press("ArrowDown")
    for _ in range(7):
        await alice.page.keyboard.press("ArrowRight")  # after "- ship "

    label = bob.page.locator(".coedit-caret-label", has_text="Alice")
    await label.wait_for(timeout=WAIT_MS)
    await (
        bob.page.locator("#people .person", has_text="Alice")
        .filter(has_text="Ln 2, Col 8")
        .wait_for(timeout=WAIT_MS)
    )
    await alice.page.locator(".coedit-caret-label", has_text="Bob").wait_for(timeout=WAIT_MS)

    # The caret flag sits where Alice's caret is: on the second line, after "- ship ".
    textarea = await bob.page.locator("#text").bounding_box()
    flag = await label.bounding_box()
    assert textarea is not None and flag is not None
    assert textarea["x"] + 60 < flag["x"] < textarea["x"] + 200
    assert textarea["y"] + 20 < flag["y"] < textarea["y"] + 60

    await bob.page.click("#text")
    await bob.page.keyboard.press("Control+End")
    await bob.page.keyboard.down("Shift")
    for _ in range(9):
        await bob.page.keyboard.press("ArrowLeft")  # selects "lebrate 🎉": 9 code points
    await bob.page.keyboard.up("Shift")
    await (
        alice.page.locator("#people .person", has_text="Bob")
        .filter(has_text="Ln 4, Col 5 · 9 selected")
        .wait_for(timeout=WAIT_MS)
    )

    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / "demo.png"
    await alice.page.screenshot(path=str(path))
    record_property("screenshot", str(path))
    with capsys.disabled():  # shown in the CI log, not captured
        print(f"\ndemo screenshot: {path}")


async def test_switching_documents_and_back_keeps_editing(browser, coedit) -> None:
    """Reopening a document on the same connection must not reuse seqs the server has seen."""
    alice = await arrive(browser, coedit, "e2e-first", "Alice", "#e5484d")

    async def switch_to(doc: str) -> None:
        await alice.page.fill("#doc-name", doc)
        await alice.page.press("#doc-name", "Enter")
        await alice.page.wait_for_function(
            "(doc) => window.coedit.doc.id === doc && window.coedit.doc.isOpen", arg=doc
        )
        await alice.page.click("#text")
        await alice.page.keyboard.press("Control+End")

    await alice.page.click("#text")
    await alice.page.keyboard.type("one 😀 ")
    await converge(coedit, "e2e-first", alice)
    await switch_to("e2e-second")
    await alice.page.keyboard.type("elsewhere")
    assert await converge(coedit, "e2e-second", alice) == "elsewhere"
    await switch_to("e2e-first")
    await alice.page.keyboard.type("two")
    assert await converge(coedit, "e2e-first", alice) == "one 😀 two"
    assert await alice.page.locator("#recent a").all_inner_texts() == ["e2e-first", "e2e-second"]


async def test_tokens_sign_in_and_are_refreshed_before_they_expire(browser, tmp_path) -> None:
    """The demo sends the token from localStorage in hello, and refreshes it (auth → authed)
    ahead of its expiry by asking the provider again."""
    import jwt

    from server.auth.settings import AuthSettings, DefaultPolicy

    secret = "a-browser-test-secret-long-enough-for-hs256"
    auth = AuthSettings(jwt_secret=secret, default_policy=DefaultPolicy.OPEN)
    coedit = Coedit(Settings(data_dir=tmp_path / "data", sqlite_synchronous="NORMAL", auth=auth))
    await coedit.start()
    try:

        def token(user: str, lifetime: float) -> str:
            claims = {"sub": user, "exp": int(time.time() + lifetime)}
            return jwt.encode(claims, secret, algorithm="HS256")

        context = await browser.new_context()
        # Expires in 32 s: the client refreshes 30 s ahead, i.e. after about 2 s.
        first = json.dumps(token("alice", 32))
        await context.add_init_script(f"localStorage.setItem('coedit.token', {first});")
        page = await context.new_page()
        frames: list[dict[str, Any]] = []
        arrived = asyncio.Event()

        def received(data: str | bytes) -> None:
            frames.extend(_messages(data))
            arrived.set()

        page.on("websocket", lambda ws: ws.on("framereceived", received))
        await page.goto(f"{coedit.url}/#e2e-auth")
        await page.wait_for_function(SYNCED, arg=None, timeout=WAIT_MS)
        welcome = next(m for m in frames if m["type"] == "welcome")
        assert welcome["user"] == "alice" and "expires" in welcome

        fresh = json.dumps(token("alice", 3600))
        await page.evaluate(f"localStorage.setItem('coedit.token', {fresh})")

        # The provider is asked again at each refresh until a refresh carries the fresh token.
        def refreshed() -> bool:
            return any(
                m["type"] == "authed" and m["expires"] > welcome["expires"] + 3000 for m in frames
            )

        async with asyncio.timeout(30):
            while not refreshed():
                arrived.clear()
                await arrived.wait()
        assert all(m["user"] == "alice" for m in frames if m["type"] == "authed")
        await page.click("#text")
        await page.keyboard.type("signed 🔏")
        coedit.token = token("auditor", 60)
        assert await converge(coedit, "e2e-auth", Person("alice", context, page)) == "signed 🔏"
    finally:
        await coedit.stop()


def _messages(frame: str | bytes) -> list[dict[str, Any]]:
    decoded = json.loads(frame)
    return decoded if isinstance(decoded, list) else [decoded]
