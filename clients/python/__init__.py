"""coedit's asyncio client: shared text documents over WebSocket, with an offline outbox.

doc = await open_document("http://127.0.0.1:8765", "notes", store="replica.db")
doc.edit(0, 0, "hello ")
async for change in doc.changes():
    print(change.version, change.client, doc.text)
"""

from clients.python.backoff import Backoff
from clients.python.client import DEFAULT_URL, CoeditClient, open_document
from clients.python.document import Document
from clients.python.entities import EntitySync
from clients.python.errors import (
    AuthenticationFailed,
    CoeditError,
    ConnectionFailed,
    DocumentClosed,
    ServerError,
    SyncError,
)
from clients.python.events import (
    EntityEvent,
    Event,
    PresenceChange,
    RecordsChanged,
    Rejected,
    RemoteChange,
    Status,
    WriteRejected,
)
from clients.python.outbox import Outbox

__all__ = [
    "DEFAULT_URL",
    "AuthenticationFailed",
    "Backoff",
    "CoeditClient",
    "CoeditError",
    "ConnectionFailed",
    "Document",
    "DocumentClosed",
    "EntityEvent",
    "EntitySync",
    "Event",
    "Outbox",
    "PresenceChange",
    "RecordsChanged",
    "Rejected",
    "RemoteChange",
    "ServerError",
    "Status",
    "SyncError",
    "WriteRejected",
    "open_document",
]
