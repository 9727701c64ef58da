"""Typed keys of the aiohttp application state."""

from __future__ import annotations

from aiohttp import web

from server.config import Settings
from server.hub.hub import Hub
from server.storage import DocumentStore

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", DocumentStore)
HUB = web.AppKey("hub", Hub)
SESSIONS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sessions")
