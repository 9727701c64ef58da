"""Record storage: the ``EntityStore`` interface, the pure write planner and the adapters
(``sqlite``, the embedded default, and ``postgres``), all run through one contract suite."""

from server.entities.store.base import (
    EntityStore,
    FeedRange,
    FeedRead,
    KeyRow,
    Outcome,
    Removal,
    WriteCall,
    WriteUnit,
)

__all__ = [
    "EntityStore",
    "FeedRange",
    "FeedRead",
    "KeyRow",
    "Outcome",
    "Removal",
    "WriteCall",
    "WriteUnit",
]
