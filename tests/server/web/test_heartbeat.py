"""The heartbeat's decision without a clock: wait, ping after two silent ticks, then give up."""

from __future__ import annotations

from server.web.heartbeat import Beat, beat


def test_two_silent_ticks_ping_and_a_third_gives_up() -> None:
    assert [beat(ticks) for ticks in (1, 2, 3, 4)] == [
        Beat.WAIT,
        Beat.PING,
        Beat.GIVE_UP,
        Beat.GIVE_UP,
    ]
