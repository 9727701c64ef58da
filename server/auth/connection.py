"""The guard of one WebSocket connection: its identity and token expiry, its roles on the
documents it has open (revoked at once when an owner changes the list), its abuse limits, and
the audit entries it causes. Implements ``server.auth.guard.Guard``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from server.auth.access import Access
from server.auth.acl import AccessList, Action, Resource, Role
from server.auth.authorizer import not_allowed
from server.auth.events import AuditKind
from server.auth.guard import Revoke, SendError
from server.auth.identity import ANONYMOUS, Identity
from server.auth.ratelimit import TokenBucket, rate_limited
from server.background import keep_running
from server.protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4001
CloseTransport = Callable[[int, str], None]


# The role re-reads that follow opens, kept until done (one set for every connection).
_rechecks: set[asyncio.Task[None]] = set()


@dataclass(slots=True)
class _Grant:
    role: Role
    checked_at: float  # monotonic seconds


class ConnectionGuard:
    """Access control state of one connection (see ``Guard`` for the hooks)."""

    __slots__ = (
        "_access",
        "_bound",
        "_close",
        "_expiry",
        "_grants",
        "_header_token",
        "_messages",
        "_remote",
        "_revoke",
        "_send_error",
        "_watched",
        "identity",
    )

    def __init__(
        self,
        access: Access,
        *,
        remote: str | None,
        close: CloseTransport,
        header_token: str | None = None,
    ) -> None:
        self._access = access
        self._remote = remote
        self._close = close
        self._header_token = header_token
        self.identity: Identity = ANONYMOUS
        limits = access.limits
        self._messages = TokenBucket(
            limits.messages_per_second, limits.message_burst, clock=access.monotonic
        )
        self._grants: dict[str, _Grant] = {}
        self._watched: set[str] = set()
        # Documents whose client id binding was checked; made on the first submit, since most
        # connections only read and an empty set costs 216 bytes on each of them.
        self._bound: set[str] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._send_error: SendError = _ignore_error
        self._revoke: Revoke = _ignore_revoke

    def attach(self, send_error: SendError, revoke: Revoke) -> None:
        self._send_error = send_error
        self._revoke = revoke

    def admit(self, message: dict[str, Any]) -> None:
        wait = self._messages.take()
        if wait:
            rate = self._access.limits.messages_per_second
            raise rate_limited(
                wait,
                f"more than {rate:g} messages per second on this connection",
                **_context(message),
            )

    async def authenticate(self, token: Any) -> str | None:
        if token is None:
            token = self._header_token
        self.identity = await self._access.identify(token, remote=self._remote, via="ws")
        self._schedule_expiry()
        return self.identity.user

    def token_info(self) -> dict[str, Any]:
        expires = self.identity.expires_at
        return {} if expires is None else {"expires": expires}

    async def reauthenticate(self, token: Any) -> None:
        identity = await self._access.identify(token, remote=self._remote, via="ws")
        if identity.user != self.identity.user:
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                f"the new token is for {identity.user!r}, but this connection is "
                f"{self.identity.user!r}'s; open a new connection for another user",
            )
        self.identity = identity
        self._schedule_expiry()
        for grant in self._grants.values():
            grant.checked_at = float("-inf")  # the groups may have changed: re-read roles

    async def authorize_open(self, doc_id: str) -> None:
        self._check_open_limit(doc_id)
        role = await self._authorize(doc_id, Action.READ, create=True)
        self._grants[doc_id] = _Grant(role, self._access.monotonic())

    def opened(self, doc_id: str, version: int) -> None:
        if doc_id not in self._watched:
            self._watched.add(doc_id)
            authorizer = self._access.authorizer
            authorizer.watch(Resource.doc(doc_id), self._acl_changed)
            if self.identity.user is not None:
                self._access.open_docs[self.identity.user] += 1
            if not authorizer.is_admin(self.identity):
                keep_running(self._recheck(doc_id), _rechecks)
        self._record(AuditKind.DOC_OPENED, doc_id, version=version, via="ws")

    async def _recheck(self, doc_id: str) -> None:
        """Read the role once more now that the list is watched: a change made between the
        open's check and the watch reached no listener, and would otherwise hold until the
        next sweep."""
        grant = self._grants.get(doc_id)
        if grant is None:
            return
        try:
            role = await self._access.authorizer.role(self.identity, Resource.doc(doc_id))
        except ProtocolError:
            return  # the store is unavailable: the sweep and the next submit read it again
        if self._grants.get(doc_id) is not grant:
            return  # closed meanwhile, or a newer change already applied
        if role is None:
            self._revoke_doc(doc_id)
        else:
            grant.role, grant.checked_at = role, self._access.monotonic()

    async def authorize_submit(self, doc_id: str, client_id: str, seq: int) -> None:
        self._access.take_op(self._limit_key, doc=doc_id, seq=seq)
        try:
            role = await self._current_role(doc_id)
        except ProtocolError as exc:
            raise ProtocolError(exc.code, exc.message, doc=doc_id, seq=seq) from exc
        if not role.allows(Action.WRITE):
            self._access.denied(
                self.identity, Resource.doc(doc_id), Action.WRITE, remote=self._remote, via="ws"
            )
            error = not_allowed(Resource.doc(doc_id), role, Action.WRITE)
            raise ProtocolError(error.code, error.message, doc=doc_id, seq=seq)
        if self._bound is None or doc_id not in self._bound:
            try:
                await self._access.check_client(
                    self.identity, doc_id, client_id, remote=self._remote, via="ws"
                )
            except ProtocolError as exc:
                raise ProtocolError(exc.code, exc.message, doc=doc_id, seq=seq) from exc
            if self._bound is None:
                self._bound = set()
            self._bound.add(doc_id)

    async def authorize_presence(self, doc_id: str) -> None:
        await self._current_role(doc_id)

    def committed(self, doc_id: str, client_id: str, seq: int, version: int) -> None:
        self._record(
            AuditKind.OP_COMMITTED, doc_id, version=version, client=client_id, seq=seq, via="ws"
        )

    def closed(self, doc_id: str) -> None:
        self._grants.pop(doc_id, None)
        if doc_id in self._watched:
            self._watched.discard(doc_id)
            self._access.authorizer.unwatch(Resource.doc(doc_id), self._acl_changed)
            user = self.identity.user
            if user is not None:
                self._access.open_docs[user] -= 1
                if self._access.open_docs[user] <= 0:
                    del self._access.open_docs[user]

    def disconnect(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        for doc_id in list(self._watched):
            self.closed(doc_id)

    # -- internals ----------------------------------------------------------------------------

    @property
    def _limit_key(self) -> object:
        # Anonymous (dev mode) connections are limited one by one, users over all connections.
        return self.identity.user if self.identity.user is not None else self

    def _check_open_limit(self, doc_id: str) -> None:
        user, open_docs = self.identity.user, self._access.open_docs
        limit = self._access.limits.max_user_open_docs
        if user is None or doc_id in self._watched or not limit or open_docs[user] < limit:
            return
        raise ProtocolError(
            ErrorCode.TOO_MANY_DOCS,
            f"{user!r} already has {limit} documents open over all connections; close some",
            doc=doc_id,
        )

    async def _authorize(self, doc_id: str, action: Action, *, create: bool = False) -> Role:
        try:
            return await self._access.authorize(
                self.identity,
                Resource.doc(doc_id),
                action,
                remote=self._remote,
                via="ws",
                create=create,
            )
        except ProtocolError as exc:
            raise ProtocolError(exc.code, exc.message, doc=doc_id, **exc.extra) from exc

    async def _current_role(self, doc_id: str) -> Role:
        """The cached role, re-read from the store when older than ``acl_recheck_seconds``.

        Changes made through this process arrive at once (``_acl_changed``); the re-read bounds
        how long a change made through another server process takes to apply here.
        """
        grant = self._grants.get(doc_id)
        now = self._access.monotonic()
        if grant is None:
            raise ProtocolError(ErrorCode.DOC_NOT_OPEN, f"document {doc_id!r} is not open")
        if now - grant.checked_at >= self._access.settings.acl_recheck_seconds:
            role = await self._access.authorizer.role(self.identity, Resource.doc(doc_id))
            if role is None:
                error = self._revoke_doc(doc_id)
                raise error
            grant.role, grant.checked_at = role, now
        return grant.role

    def _acl_changed(self, resource: Resource, acl: AccessList) -> None:
        doc_id = resource.id
        role = self._access.authorizer.role_in(acl, self.identity)
        if role is None:
            self._revoke_doc(doc_id)
        elif doc_id in self._grants:
            self._grants[doc_id] = _Grant(role, self._access.monotonic())

    def _revoke_doc(self, doc_id: str) -> ProtocolError:
        self.closed(doc_id)
        error = ProtocolError(
            ErrorCode.FORBIDDEN,
            f"your access to document {doc_id!r} was revoked; it is closed on this connection",
            doc=doc_id,
        )
        self._revoke(doc_id, error)
        return error

    def _schedule_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        expires = self.identity.expires_at
        if expires is None:
            return
        delay = expires + self._access.settings.leeway_seconds - self._access.clock()
        self._expiry = asyncio.get_running_loop().call_later(max(0.0, delay), self._expire)

    def _expire(self) -> None:
        self._expiry = None
        self._access.audit.record(
            AuditKind.AUTH_FAILED,
            user=self.identity.user,
            remote=self._remote,
            code=ErrorCode.TOKEN_EXPIRED.value,
            reason="the token expired on an open connection",
            via="ws",
        )
        self._send_error(
            ProtocolError(
                ErrorCode.TOKEN_EXPIRED,
                "the token expired and was not refreshed; the connection closes with 4001: "
                "reconnect with a new token (send an auth message before expiry next time)",
            )
        )
        self._close(CLOSE_UNAUTHORIZED, "token expired")

    def _record(self, kind: AuditKind, doc_id: str, **detail: Any) -> None:
        self._access.audit.record(
            kind,
            user=self.identity.user,
            remote=self._remote,
            resource=Resource.doc(doc_id),
            **detail,
        )


def _context(message: dict[str, Any]) -> dict[str, Any]:
    """The doc and seq of a message, when they look valid, to attach to its error."""
    context: dict[str, Any] = {}
    if isinstance(message.get("doc"), str):
        context["doc"] = message["doc"]
    if type(message.get("seq")) is int:
        context["seq"] = message["seq"]
    return context


def _ignore_error(error: ProtocolError) -> None:
    log.debug("guard error with no session attached: %s", error.message)


def _ignore_revoke(doc_id: str, error: ProtocolError) -> None:
    log.debug("revocation of %r with no session attached", doc_id)
