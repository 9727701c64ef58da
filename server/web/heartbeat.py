"""One heartbeat for every lean WebSocket instead of a timer each (aiohttp arms one per socket).

Every half ``heartbeat_seconds`` the heartbeat ticks each member. A member counts the ticks
since it last heard from its peer (any bytes count, as for aiohttp): after two silent ticks
(``heartbeat_seconds`` to 1.5 times it) it pings; if the next tick still finds it silent, the
pong is half a heartbeat late and the peer is taken for dead.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Protocol

PING_AFTER_TICKS = 2


class Beat(enum.Enum):
    """What a member does on a tick."""

    WAIT = enum.auto()
    PING = enum.auto()
    GIVE_UP = enum.auto()


def beat(silent_ticks: int) -> Beat:
    """The action for a member that has been silent for ``silent_ticks`` ticks, this one
    included."""
    if silent_ticks < PING_AFTER_TICKS:
        return Beat.WAIT
    return Beat.PING if silent_ticks == PING_AFTER_TICKS else Beat.GIVE_UP


class Member(Protocol):
    def heartbeat_tick(self) -> None:
        """Count one more tick of silence and act on it (``beat``)."""


class Heartbeat:
    """The ticking timer and its members; started and stopped with the application."""

    __slots__ = ("_members", "_timer", "seconds")

    def __init__(self, seconds: float) -> None:
        """``seconds``: the heartbeat interval; 0 or less switches the heartbeat off."""
        self.seconds = seconds
        self._members: set[Member] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, member: Member) -> None:
        self._members.add(member)

    def forget(self, member: Member) -> None:
        self._members.discard(member)

    def start(self) -> None:
        if self.seconds > 0 and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.seconds / 2, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        for member in list(self._members):
            member.heartbeat_tick()
        self.start()
