"""coedit's asyncio client: shared text documents over WebSocket, with an offline outbox.

doc = await open_document("http://127.0.0.1:8765", "notes", store="replica.db")
doc.edit(0, 0, "hello ")
async for change in doc.changes():
    print(change.version, change.client, doc.text)
"""

from clients.python.backoff import Backoff
from clients.python.client import DEFAULT_URL, CoeditClient, open_document
from clients.python.document import Document
from clients.python.errors import (
    AuthenticationFailed,
    CoeditError,
    ConnectionFailed,
    DocumentClosed,
    ServerError,
    SyncError,
)
from clients.python.events import Event, PresenceChange, Rejected, RemoteChange, Status
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
    "Event",
    "Outbox",
    "PresenceChange",
    "Rejected",
    "RemoteChange",
    "ServerError",
    "Status",
    "SyncError",
    "open_document",
]
