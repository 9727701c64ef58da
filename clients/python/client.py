"""The composition root of the Python client: one outbox, one connection, the open documents,
and the replica's status. ``open_document()`` is the one-call way in."""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from clients.python.backoff import Backoff
from clients.python.connection import Connection
from clients.python.document import Document
from clients.python.entities import EntitySync
from clients.python.entity_store import EntityStore
from clients.python.errors import CoeditError
from clients.python.events import Status, status_of
from clients.python.notify import Broadcast, Notifier, Subscription
from clients.python.outbox import MEMORY, Outbox
from clients.python.sync import DocumentSync

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8765"


class CoeditClient:
    """A replica: documents opened over one WebSocket, their pending edits kept in ``store``.

    ``store`` is the SQLite file of the offline outbox (``":memory:"`` keeps nothing across
    restarts). The client id is the one saved in the store, unless ``client_id`` is given; a
    client id must not be shared by two stores, since it scopes the submission numbering.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        store: str | Path = MEMORY,
        client_id: str | None = None,
        token: str | None = None,
        backoff: Backoff | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = url
        self.outbox = Outbox(store)
        self.client_id = client_id or self.outbox.client_id()
        self._backoff = backoff or Backoff()
        self.connection = Connection(
            url,
            self.client_id,
            token=token,
            backoff=self._backoff,
            session=session,
            on_change=self._changed,
        )
        self._documents: dict[str, Document] = {}
        self._token = token
        self._entities: EntitySync | None = None
        self._status = Status.OFFLINE
        self._statuses: Broadcast[Status] = Broadcast()
        self._status_changed = Notifier()

    async def __aenter__(self) -> CoeditClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- status -------------------------------------------------------------------------------

    @property
    def status(self) -> Status:
        """offline, syncing or online (see ``Status``)."""
        return self._status

    @property
    def outbox_depth(self) -> int:
        """Local ops not yet acknowledged, over every open document."""
        depth = sum(doc.pending_count for doc in self._documents.values())
        return depth + (self._entities.depth if self._entities is not None else 0)

    def statuses(self) -> Subscription[Status]:
        """Every status change from now on."""
        return self._statuses.subscribe()

    async def wait_status(self, status: Status) -> None:
        """Wait until the status is ``status`` (bound it with ``asyncio.timeout``)."""
        await self._status_changed.wait_for(lambda: self._status is status)

    async def wait_failed(self) -> CoeditError:
        """Wait until reconnecting cannot help any more (the server refused the token or the
        protocol), and return why."""
        await self._status_changed.wait_for(lambda: self.connection.failure is not None)
        assert self.connection.failure is not None
        return self.connection.failure

    # -- documents ----------------------------------------------------------------------------

    async def open(self, doc_id: str) -> Document:
        """Open a document. One this replica knew before opens at once, offline too, with its
        saved text and pending edits; a new one waits for the server, reconnecting as long as
        it takes (bound it with ``asyncio.timeout``)."""
        if doc_id in self._documents:
            return self._documents[doc_id]
        sync = DocumentSync(doc_id, self.client_id, self.outbox.load(doc_id))
        doc = Document(
            sync,
            self.connection,
            self.outbox,
            backoff=self._backoff,
            on_change=self._changed,
            on_close=self._closed,
        )
        self._documents[doc_id] = doc
        self.connection.attach(doc)
        self.connection.start()
        if not sync.has_text:
            try:
                await doc.wait_open()
            except BaseException:
                await doc.close()
                raise
        return doc

    def records(self, collections: list[str], **options: Any) -> EntitySync:
        """Sync the records of ``collections`` (docs/entities.md): local writes are kept in the
        outbox and pushed in batches, changes are pulled when the server hints at them. One
        ``EntitySync`` per client; ``options`` go to its constructor (``batch_size``...)."""
        if self._entities is not None:
            raise RuntimeError("this client already syncs records; use client.entities")
        store = EntityStore(self.outbox.db, self.client_id)
        sync = EntitySync(
            self.url,
            store,
            client_id=self.client_id,
            token=self._token,
            collections=collections,
            backoff=self._backoff,
            on_change=self._changed,
            **options,
        )
        self._entities = sync
        sync.attach(self.connection.send)
        self.connection.listen(sync)
        self.connection.start()
        sync.start()
        return sync

    @property
    def entities(self) -> EntitySync | None:
        """The record sync started by ``records()``, if any."""
        return self._entities

    async def close(self) -> None:
        """Close every document and the connection; the outbox keeps what is pending."""
        for doc in list(self._documents.values()):
            await doc.close()
        if self._entities is not None:
            self.connection.unlisten(self._entities)
            await self._entities.close()
        await self.connection.close()
        self._statuses.close()
        self.outbox.close()

    # -- internals ----------------------------------------------------------------------------

    def _closed(self, doc: Document) -> None:
        self._documents.pop(doc.doc_id, None)
        self._changed()

    def _changed(self) -> None:
        caught_up = all(doc.is_open for doc in self._documents.values())
        status = status_of(
            connected=self.connection.connected,
            caught_up=caught_up,
            outbox_depth=self.outbox_depth,
        )
        if status is not self._status:
            self._status = status
            self._statuses.publish(status)
            log.debug("%s is %s", self.client_id, status)
        self._status_changed.notify()
        if self.connection.failure is not None:
            for doc in self._documents.values():
                doc.wake()


async def open_document(
    url: str,
    doc_id: str,
    *,
    store: str | Path = MEMORY,
    client_id: str | None = None,
    token: str | None = None,
    backoff: Backoff | None = None,
) -> Document:
    """Open one document on its own connection; closing the document closes the connection.

    With ``store`` (an SQLite file) local edits survive restarts and are sent exactly once.
    """
    client = CoeditClient(url, store=store, client_id=client_id, token=token, backoff=backoff)
    try:
        doc = await client.open(doc_id)
    except BaseException:
        await client.close()
        raise
    doc.add_close_callback(client.close)
    return doc
