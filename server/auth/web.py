"""aiohttp glue of access control: the app state key and context, bearer tokens on REST
requests, REST authorisation helpers, and the guard of each WebSocket connection."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import orjson
from aiohttp import web

from server.auth.access import Access
from server.auth.acl import Action, Resource
from server.auth.connection import ConnectionGuard
from server.auth.identity import Identity
from server.auth.store import AuthStore, open_auth_store
from server.background import keep_running
from server.protocol.errors import ProtocolError
from server.web.keys import SETTINGS, STORE
from server.web.open_socket import OpenSocket

ACCESS = web.AppKey("access", Access)
AUTH_STORE: web.AppKey[AuthStore] = web.AppKey("auth_store")  # optional override, for tests


async def access_context(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: open access control before the hub, close it (audit flushed) after."""
    settings = app[SETTINGS]
    store = app.get(AUTH_STORE) or open_auth_store(settings)
    access = Access(settings.auth, store, document_exists=app[STORE].document_exists)
    await access.open()
    app[ACCESS] = access
    yield
    await access.close()


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if there is one."""
    return bearer_token_of(request.headers.get("Authorization", ""))


def bearer_token_of(authorization: str) -> str | None:
    """The token of an ``Authorization`` header value of the ``Bearer`` scheme, if any."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def request_identity(request: web.Request) -> Identity:
    """The caller of a REST request (anonymous in dev mode); 401 without a valid token."""
    access = request.app[ACCESS]
    token = bearer_token(request)
    try:
        return await access.identify(token, remote=request.remote, via="rest")
    except ProtocolError as exc:
        raise http_error(exc, token_given=token is not None) from exc


async def authorize(
    request: web.Request, resource: Resource, action: Action, *, create: bool = False
) -> Identity:
    """The caller, if their role on ``resource`` allows ``action``; else 401 or 403."""
    identity = await request_identity(request)
    access = request.app[ACCESS]
    await access.authorize(
        identity, resource, action, remote=request.remote, via="rest", create=create
    )
    return identity


async def authorize_submit(request: web.Request, doc_id: str, client_id: str) -> Identity:
    """The caller of ``POST /v1/docs/{doc}/ops``: editor or better, within the op rate, and
    the owner of ``client_id`` on this document. Creates the document's list if it is new."""
    identity = await authorize(request, Resource.doc(doc_id), Action.WRITE, create=True)
    access = request.app[ACCESS]
    key = identity.user if identity.user is not None else request.remote
    try:
        access.take_op(key)
    except ProtocolError as exc:
        raise http_error(exc) from exc
    await access.check_client(identity, doc_id, client_id, remote=request.remote, via="rest")
    return identity


def record(request: web.Request, kind: str, identity: Identity, doc_id: str, **detail: Any) -> None:
    """Audit a REST event on a document."""
    request.app[ACCESS].audit.record(
        kind, user=identity.user, remote=request.remote, resource=Resource.doc(doc_id), **detail
    )


def http_error(error: ProtocolError, *, token_given: bool = True) -> Exception:
    """The error as raised in a handler: 401 and 429 with the headers RFC 6750 and RFC 6585
    ask for (``WWW-Authenticate``, ``Retry-After``); other codes go to the error middleware."""
    body = orjson.dumps(
        {"error": {"code": error.code.value, "message": error.message, **error.extra}}
    ).decode()
    if error.http_status == 401:
        challenge = 'Bearer realm="coedit"' + (', error="invalid_token"' if token_given else "")
        return web.HTTPUnauthorized(
            headers={"WWW-Authenticate": challenge}, text=body, content_type="application/json"
        )
    retry_after = error.extra.get("retry_after")
    if error.http_status == 429 and isinstance(retry_after, int | float):
        return web.HTTPTooManyRequests(
            headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
            text=body,
            content_type="application/json",
        )
    return error


def connection_guard(
    access: Access, socket: OpenSocket, *, remote: str | None, header_token: str | None
) -> ConnectionGuard:
    """The access control guard of a new WebSocket connection; ``header_token`` is the bearer
    token of its upgrade request, if any."""
    return ConnectionGuard(
        access, remote=remote, close=partial(_close_socket, socket), header_token=header_token
    )


# The closes the guards started, kept until done. One set for all connections: a closure and a
# set per connection cost ≈ 0.4 KB each, and at most a few closes are ever under way.
_closing: set[asyncio.Task[bool]] = set()


def _close_socket(socket: OpenSocket, code: int, reason: str) -> None:
    keep_running(socket.close(code=code, message=reason.encode()), _closing)
