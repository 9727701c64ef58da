"""The composition root: builds the aiohttp application from ``Settings``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from server.auth import routes as auth_routes
from server.auth.web import access_context
from server.config import Settings
from server.entities.web import install as install_entities
from server.fanout import FanOut, LocalFanOut
from server.hub.hub import Hub
from server.observability import METRICS, Metrics
from server.observability.connection import bypassing_connections
from server.observability.install import install as install_observability
from server.storage import DocumentStore
from server.storage._group_commit import BatchHook
from server.web import docs_api, health, static
from server.web.errors import error_middleware
from server.web.heartbeat import Heartbeat
from server.web.keys import HEARTBEAT, HUB, PACER, SESSIONS, SETTINGS, STORE
from server.web.pacer import Pacer
from server.web.ws import WS_PATH, websocket

log = logging.getLogger(__name__)

_SWEEP_SECONDS = 5.0


def open_store(settings: Settings, *, on_commit_batch: BatchHook | None = None) -> DocumentStore:
    """The store the settings select: PostgreSQL for a ``postgresql://`` URL, else SQLite.

    ``on_commit_batch`` observes the number of appends of every group-commit transaction.
    """
    url = settings.database_url
    if url and url.startswith(("postgres://", "postgresql://")):
        from server.storage.postgres import PostgresStore

        return PostgresStore(url, on_commit_batch=on_commit_batch)
    from server.storage.sqlite import SqliteStore

    return SqliteStore(
        settings.data_dir / "coedit.db",
        synchronous=settings.sqlite_synchronous,
        on_commit_batch=on_commit_batch,
    )


def open_fanout(settings: Settings) -> FanOut:
    """Redis pub/sub when a Redis URL is set (several server processes), else in-process."""
    if settings.redis_url:
        from server.fanout.redis import RedisFanOut

        return RedisFanOut(settings.redis_url)
    return LocalFanOut()


def make_app(
    settings: Settings,
    *,
    store: DocumentStore | None = None,
) -> web.Application:
    """The coedit application; ``store`` overrides the one the settings select."""
    app = web.Application(
        client_max_size=settings.limits.max_frame_bytes,
        # The WebSocket handler maps its own failures (to close codes), and a middleware around
        # it would stay suspended for the connection's whole life.
        middlewares=[bypassing_connections(error_middleware)],
    )
    metrics = Metrics()
    install_observability(app, metrics)  # /metrics, request ids, access log, REST metrics
    app[SETTINGS] = settings
    app[STORE] = (
        store if store is not None else open_store(settings, on_commit_batch=metrics.storage_batch)
    )
    app[SESSIONS] = set()
    app[PACER] = Pacer(settings.broadcast_interval)
    app[health.SHUTTING_DOWN] = []
    app.router.add_get(WS_PATH, websocket)
    app.router.add_routes(docs_api.routes)
    app.router.add_routes(health.routes)
    app.router.add_routes(auth_routes.routes)  # access lists and the audit log: docs/auth.md
    app.router.add_routes(static.routes)  # the browser client and its demo page
    app.cleanup_ctx.append(access_context)  # before the hub: closed after its last commit
    app.cleanup_ctx.append(_hub_context)
    app.cleanup_ctx.append(_heartbeat_context)
    app.on_shutdown.append(_shutdown)
    install_entities(app, settings)  # records, changes feed, outbox batches: docs/entities.md
    return app


async def _hub_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = app[STORE]
    await store.open()
    fanout = open_fanout(settings)
    hub = Hub(store, settings.hub, settings.limits, fanout=fanout, observer=app[METRICS])
    await fanout.start(hub.remote_commit)
    app[HUB] = hub
    sweeper = asyncio.create_task(_sweep(hub))
    yield
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    await hub.drain()
    await fanout.close()
    await store.close()


async def _heartbeat_context(app: web.Application) -> AsyncIterator[None]:
    """The one heartbeat of the lean WebSockets (aiohttp's own sockets have their own)."""
    heartbeat = Heartbeat(app[SETTINGS].heartbeat_seconds)
    app[HEARTBEAT] = heartbeat
    heartbeat.start()
    yield
    heartbeat.stop()


async def _sweep(hub: Hub) -> None:
    while True:
        await asyncio.sleep(_SWEEP_SECONDS)
        evicted = hub.evict_idle()
        if evicted:
            log.debug("evicted %d idle documents", evicted)


async def _shutdown(app: web.Application) -> None:
    """Finish the commits under way, then close every socket with 'going away' (1001)."""
    app[health.SHUTTING_DOWN].append(True)
    await app[HUB].drain()
    await asyncio.sleep(0)  # let the outboxes flush the last acks
    sockets = app[SESSIONS].copy()
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down") for ws in sockets),
        return_exceptions=True,
    )
