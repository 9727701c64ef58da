"""Typed application-state keys of the entities API."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from server.entities.access import Access
from server.entities.config import EntitiesConfig
from server.entities.push import ChangeHints
from server.entities.service import EntityService
from server.entities.store.base import EntityStore

ENTITIES_CONFIG = web.AppKey("entities_config", EntitiesConfig)
ENTITY_SERVICE = web.AppKey("entity_service", EntityService)
ENTITY_HINTS = web.AppKey("entity_hints", ChangeHints)
# Set before the application starts to replace the defaults (tests, embedding applications).
ENTITY_ACCESS: web.AppKey[Access] = web.AppKey("entity_access")
ENTITY_CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("entity_clock")
ENTITY_STORE: web.AppKey[EntityStore] = web.AppKey("entity_store")
