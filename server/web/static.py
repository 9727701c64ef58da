"""Static routes: the browser demo at ``/`` and the browser client's ES modules under ``/js/``.

The files live in the ``clients`` package (``clients/js/``), so an installed server serves the
client it shipped with. Only known file types are served, each with an explicit content type:
browsers refuse to run an ES module sent as anything but JavaScript.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from aiohttp import web

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# Revalidate on every load (the ETag makes that a 304), so a new release is picked up at once.
_CACHE_CONTROL = "no-cache"

routes = web.RouteTableDef()


def client_root() -> Path:
    """The directory holding the browser client (``clients/js``)."""
    return Path(str(files("clients").joinpath("js"))).resolve()


@routes.get("/")
async def demo_page(request: web.Request) -> web.FileResponse:
    """The demo page: open a document by name and edit it with others."""
    return _file(client_root() / "demo" / "index.html")


@routes.get("/js/{path:.+}")
async def client_file(request: web.Request) -> web.FileResponse:
    """A browser client module or demo asset, e.g. ``/js/coedit.js``."""
    root = client_root()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root):
        raise web.HTTPNotFound()
    return _file(path)


def _file(path: Path) -> web.FileResponse:
    content_type = CONTENT_TYPES.get(path.suffix)
    if content_type is None or not path.is_file():
        raise web.HTTPNotFound()
    headers = {"Content-Type": content_type, "Cache-Control": _CACHE_CONTROL}
    return web.FileResponse(path, headers=headers)
