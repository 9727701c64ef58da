"""Typed keys of the aiohttp application state."""

from __future__ import annotations

from aiohttp import web

from server.config import Settings
from server.hub.hub import Hub
from server.storage import DocumentStore
from server.web.heartbeat import Heartbeat
from server.web.open_socket import OpenSocket
from server.web.pacer import Pacer

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", DocumentStore)
HUB = web.AppKey("hub", Hub)
SESSIONS: web.AppKey[set[OpenSocket]] = web.AppKey("sessions")  # closed with 1001 on shutdown
HEARTBEAT = web.AppKey("heartbeat", Heartbeat)
PACER = web.AppKey("pacer", Pacer)  # paces the broadcasts to busy connections
