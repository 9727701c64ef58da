"""Fan-out of commit notices between server processes: in-process default and Redis pub/sub."""

from server.fanout.base import FanOut, RemoteCommit
from server.fanout.local import LocalFanOut

__all__ = ["FanOut", "LocalFanOut", "RemoteCommit"]
