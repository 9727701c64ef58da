"""Access control of one server process: token verification, authorisation, the audit log and
the limits shared by all connections. The web layer and the connection guards use this."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from server.auth.acl import Action, Resource, ResourceKind, Role
from server.auth.audit import AuditLog
from server.auth.authorizer import Authorizer
from server.auth.events import AuditKind
from server.auth.identity import ANONYMOUS, Identity
from server.auth.jwks import key_source
from server.auth.ratelimit import BucketMap, rate_limited
from server.auth.settings import AbuseLimits, AuthSettings
from server.auth.store import AuthStore
from server.auth.tokens import TokenVerifier
from server.protocol.errors import ErrorCode, ProtocolError
from server.storage import StorageError

log = logging.getLogger(__name__)

_REMEMBERED_IDENTITIES = 10_000  # users whose groups are kept between their token and a check
AUDIT_PRUNE_SECONDS = 3600.0  # how often entries past --audit-keep-days are deleted
_AUDIT_PRUNE_CHUNK = 10_000  # entries deleted per transaction, so audit writes never wait long

DocumentExists = Callable[[str], Awaitable[bool]]
NO_LIMITS = AbuseLimits(messages_per_second=0, ops_per_second=0, max_user_open_docs=0)


class Access:
    """The access control state shared by every connection and request of this process."""

    def __init__(
        self,
        settings: AuthSettings,
        store: AuthStore,
        *,
        document_exists: DocumentExists,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        settings.check()
        self.settings = settings
        self.store = store
        self.clock = clock
        self.monotonic = monotonic
        self._keys = key_source(settings) if settings.enabled else None
        self.verifier = (
            TokenVerifier(settings, self._keys, clock=clock) if settings.enabled else None
        )
        self.authorizer = Authorizer(store, settings)
        self.audit = AuditLog(store, clock=clock)
        # Dev mode has no users to limit, only this machine's own clients (load tests among them).
        self.limits = settings.limits if settings.enabled else NO_LIMITS
        limits = self.limits
        self.user_ops = BucketMap(limits.ops_per_second, limits.op_burst, clock=monotonic)
        self.open_docs: Counter[str] = Counter()  # user -> documents open over all connections
        self._document_exists = document_exists
        self._sweeper: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._identities: OrderedDict[str, Identity] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """False in dev mode (no authentication)."""
        return self.verifier is not None

    async def open(self) -> None:
        """Open the store and say at start-up which mode the server runs in."""
        await self.store.open()
        settings = self.settings
        if settings.enabled:
            self._sweeper = asyncio.create_task(self._sweep_roles())
        if settings.audit_keep_days > 0:
            self._pruner = asyncio.create_task(self._prune_audit_hourly())
        if not settings.enabled:
            log.warning(
                "dev mode: no authentication is configured (--jwt-secret, --jwks-file or "
                "--jwks-url), so every client is an anonymous owner of every document; "
                "never expose this server beyond this machine"
            )
            return
        source = settings.jwks_url or settings.jwks_file or "shared secret"
        log.info(
            "authentication: bearer tokens (%s), issuer %s, audience %s, default policy %s",
            source,
            settings.issuer or "any",
            settings.audience or "any",
            settings.default_policy.value,
        )
        if settings.audience is None:
            log.warning(
                "no --audience configured: tokens the identity provider issued for other "
                "services are accepted too"
            )

    async def close(self) -> None:
        """Store the audit entries still queued, then release keys and the store."""
        for task in (self._sweeper, self._pruner):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.audit.close()
        if self._keys is not None:
            await self._keys.close()
        await self.store.close()

    async def identify(self, token: Any, *, remote: str | None, via: str) -> Identity:
        """The identity a token proves (anonymous in dev mode); failures are audited."""
        if self.verifier is None:
            return ANONYMOUS
        try:
            identity = await self.verifier.verify(token)
        except ProtocolError as exc:
            if exc.code is not ErrorCode.UNAVAILABLE:
                self.audit.record(
                    AuditKind.AUTH_FAILED,
                    user=None,
                    remote=remote,
                    code=exc.code.value,
                    reason=exc.message,
                    via=via,
                )
            raise
        self._remember(identity)
        return identity

    def identity_of(self, user: str | None) -> Identity:
        """The identity, groups included, that ``user`` last proved with a token to this
        process (over REST or WebSocket); without groups if none is remembered."""
        if user is None:
            return ANONYMOUS
        return self._identities.get(user) or Identity(user)

    def _remember(self, identity: Identity) -> None:
        if identity.user is None:
            return
        self._identities[identity.user] = identity
        self._identities.move_to_end(identity.user)
        if len(self._identities) > _REMEMBERED_IDENTITIES:
            self._identities.popitem(last=False)

    async def authorize(
        self,
        identity: Identity,
        resource: Resource,
        action: Action,
        *,
        remote: str | None,
        via: str,
        create: bool = False,
    ) -> Role:
        """``identity``'s role if it allows ``action``, else ``forbidden`` (audited)."""
        exists = None
        if create and resource.kind is ResourceKind.DOC:

            async def exists() -> bool:
                return await self._document_exists(resource.id)

        try:
            return await self.authorizer.require(
                identity, resource, action, create=create, exists=exists
            )
        except ProtocolError as exc:
            if exc.code is ErrorCode.FORBIDDEN:
                self.denied(identity, resource, action, remote=remote, via=via)
            raise

    def denied(
        self,
        identity: Identity,
        resource: Resource,
        action: Action,
        *,
        remote: str | None,
        via: str,
    ) -> None:
        """Audit a refused request."""
        self.audit.record(
            AuditKind.ACCESS_DENIED,
            user=identity.user,
            remote=remote,
            resource=resource,
            action=action.value,
            via=via,
        )

    async def check_client(
        self, identity: Identity, doc_id: str, client_id: str, *, remote: str | None, via: str
    ) -> None:
        """Refuse a client id that another user used first on this document.

        Exactly-once state is per ``(doc, client, seq)``; without this, user B could submit
        under A's client id and be acknowledged with A's ops (or block A's next seq).
        """
        user = identity.user
        if user is None:
            return
        try:
            bound = await self.store.bind_client(doc_id, client_id, user)
        except StorageError as exc:
            log.error("binding client id %r on %r failed: %s", client_id, doc_id, exc)
            raise ProtocolError(
                ErrorCode.UNAVAILABLE, "access control storage is unavailable; retry later"
            ) from exc
        if bound != user:
            self.denied(identity, Resource.doc(doc_id), Action.WRITE, remote=remote, via=via)
            raise ProtocolError(
                ErrorCode.FORBIDDEN,
                f"client id {client_id!r} was first used on document {doc_id!r} by another "
                "user; every user needs client ids of their own",
            )

    async def prune_audit(self) -> int:
        """Delete the audit entries older than ``audit_keep_days``, a chunk per transaction;
        how many went (none when the setting is 0)."""
        if self.settings.audit_keep_days <= 0:
            return 0
        before = self.clock() - self.settings.audit_keep_days * 86_400
        pruned = 0
        while True:
            deleted = await self.store.prune_audit(before, _AUDIT_PRUNE_CHUNK)
            pruned += deleted
            if deleted < _AUDIT_PRUNE_CHUNK:
                return pruned

    async def _prune_audit_hourly(self) -> None:
        while True:
            try:
                pruned = await self.prune_audit()
                if pruned:
                    log.info("deleted %d audit entries past --audit-keep-days", pruned)
            except StorageError as exc:
                log.warning("pruning the audit log failed: %s", exc)
            except Exception:  # the next hour tries again; close() must not see it
                log.exception("pruning the audit log failed")
            await asyncio.sleep(AUDIT_PRUNE_SECONDS)

    async def _sweep_roles(self) -> None:
        """Apply list changes made by other server processes to this one's open sockets."""
        while True:
            await asyncio.sleep(self.settings.acl_recheck_seconds)
            try:
                await self.authorizer.refresh_watched()
            except ProtocolError as exc:
                log.warning("re-reading access lists failed: %s", exc.message)

    def take_op(self, key: Hashable, **context: Any) -> None:
        """Count one submitted op against ``key``'s rate (a user, or an anonymous connection)."""
        wait = self.user_ops.take(key)
        if wait:
            limits = self.limits
            raise rate_limited(
                wait, f"more than {limits.ops_per_second:g} ops per second", **context
            )
