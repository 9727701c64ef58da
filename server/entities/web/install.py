"""Adds the entities API to the application: routes, state and the resources' lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from server.auth.web import ACCESS as AUTH_ACCESS
from server.config import Settings
from server.entities.access import Access, OpenAccess
from server.entities.config import EntitiesConfig
from server.entities.notify import ChangeNotifier
from server.entities.push import ChangeHints
from server.entities.service import EntityService
from server.entities.store.base import EntityStore
from server.entities.web import events, records, sync
from server.entities.web.auth_bridge import ServerAuthAccess
from server.entities.web.keys import (
    ENTITIES_CONFIG,
    ENTITY_ACCESS,
    ENTITY_CLOCK,
    ENTITY_HINTS,
    ENTITY_SERVICE,
    ENTITY_STORE,
)
from server.entities.web.metrics_bridge import ObservabilityMetrics
from server.fanout import FanOut
from server.observability import METRICS

log = logging.getLogger(__name__)


def install(app: web.Application, settings: Settings) -> None:
    """Register the routes and the startup/cleanup of the store, notifier and purger.

    ``app[ENTITY_ACCESS]``, ``app[ENTITY_CLOCK]`` and ``app[ENTITY_STORE]`` may be replaced
    before the application starts.
    """
    app[ENTITIES_CONFIG] = settings.entities
    app[ENTITY_ACCESS] = OpenAccess()
    app[ENTITY_CLOCK] = time.time
    app.router.add_routes(records.routes)
    app.router.add_routes(sync.routes)
    app.router.add_routes(events.routes)
    app.cleanup_ctx.append(_context(settings))
    app.on_shutdown.append(_stop_streams)


def open_entity_store(
    settings: Settings, config: EntitiesConfig, clock: Callable[[], float]
) -> EntityStore:
    """PostgreSQL for a ``postgresql://`` database URL, else SQLite beside the op log."""
    url = settings.database_url
    ttl = config.idempotency_ttl_seconds
    if url and url.startswith(("postgres://", "postgresql://")):
        from server.entities.store.postgres import PostgresEntityStore

        return PostgresEntityStore(url, key_ttl=ttl, clock=clock)
    from server.entities.store.sqlite import SqliteEntityStore

    path = settings.data_dir / "entities.db"
    return SqliteEntityStore(
        path, synchronous=settings.sqlite_synchronous, key_ttl=ttl, clock=clock
    )


def _access(app: web.Application) -> Access:
    """The access the application was given, else ``server.auth``'s when it runs, else open."""
    access = app[ENTITY_ACCESS]
    auth = app.get(AUTH_ACCESS)
    if isinstance(access, OpenAccess) and auth is not None:
        return ServerAuthAccess(auth)
    return access


def _bus(settings: Settings) -> FanOut | None:
    if not settings.redis_url:
        return None
    from server.fanout.redis import RedisFanOut

    return RedisFanOut(settings.redis_url, prefix="coedit:")


def _context(
    settings: Settings,
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def context(app: web.Application) -> AsyncIterator[None]:
        config, clock = app[ENTITIES_CONFIG], app[ENTITY_CLOCK]
        store = app.get(ENTITY_STORE) or open_entity_store(settings, config, clock)
        await store.open()
        notifier = ChangeNotifier(_bus(settings))
        metrics = app.get(METRICS)
        service = EntityService(
            config,
            store,
            _access(app),
            notifier,
            clock=clock,
            metrics=ObservabilityMetrics(metrics) if metrics is not None else None,
        )
        app[ENTITY_SERVICE] = service
        app[ENTITY_HINTS] = ChangeHints(service)
        await notifier.start(config.collections)
        purger = asyncio.create_task(_purge_forever(service))
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await notifier.close()
            await store.close()

    return context


async def _stop_streams(app: web.Application) -> None:
    service = app.get(ENTITY_SERVICE)
    if service is not None:
        service.notifier.stop()


async def _purge_forever(service: EntityService) -> None:
    while True:
        try:
            gone = await service.purge()
            if gone:
                log.info("purged %d expired tombstones, removals and idempotency keys", gone)
        except Exception:
            log.exception("purging expired entities failed")
        await asyncio.sleep(service.config.purge_interval_seconds)
