"""The static routes: the demo page at ``/`` and the browser client's modules under ``/js/``."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import aiohttp
from aiohttp.test_utils import TestServer

IMPORT = re.compile(r"""(?:import|export)\s[^"']*?from\s+["']([^"']+)["']""")


async def test_demo_page_is_html_that_loads_the_demo_module(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.make_url("/")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        page = await response.text()
    assert '<script type="module" src="/js/demo/demo.js">' in page
    assert '<link rel="stylesheet" href="/js/demo/demo.css">' in page


async def test_every_module_the_demo_imports_is_served_as_javascript(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    """Walk the module graph from demo.js: browsers refuse modules of any other content type."""
    pending, seen = ["/js/demo/demo.js"], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        async with http.get(server.make_url(path)) as response:
            assert response.status == 200, path
            assert response.headers["Content-Type"] == "text/javascript; charset=utf-8", path
            source = await response.text()
        pending.extend(urljoin(path, target) for target in IMPORT.findall(source))
    assert {"/js/coedit.js", "/js/ot.js", "/js/unicode.js", "/js/textarea.js"} <= seen


async def test_stylesheet_is_css(server: TestServer, http: aiohttp.ClientSession) -> None:
    async with http.get(server.make_url("/js/demo/demo.css")) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/css; charset=utf-8"


async def test_unchanged_file_revalidates_to_304(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(server.make_url("/js/ot.js")) as response:
        assert response.headers["Cache-Control"] == "no-cache"
        etag = response.headers["ETag"]
    async with http.get(server.make_url("/js/ot.js"), headers={"If-None-Match": etag}) as response:
        assert response.status == 304


async def test_nothing_outside_the_client_directory_is_served(
    server: TestServer, http: aiohttp.ClientSession
) -> None:
    for path in (
        "/js/missing.js",
        "/js/demo",
        "/js/%2e%2e/__init__.py",
        "/js/..%2f..%2fpyproject.toml",
        "/js/%2e%2e/%2e%2e/server/web/static.py",
    ):
        async with http.get(server.make_url(path)) as response:
            assert response.status == 404, path
