"""Outgoing frames: batched as JSON arrays, never past the server's frame limit."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from clients.python.connection import frames, ws_url


@given(st.lists(st.text("ab😀", max_size=30), max_size=20), st.integers(8, 80))
def test_frames_keep_order_and_the_limit(texts: list[str], limit: int) -> None:
    messages = [{"t": t} for t in texts]
    out = frames(messages, limit)
    decoded = [m for frame, _ in out for m in json.loads(frame)]
    assert decoded == messages
    assert sum(count for _, count in out) == len(messages)
    for frame, count in out:
        assert count == 1 or len(frame.encode()) <= limit


def test_everything_fits_in_one_frame_when_small() -> None:
    assert frames([{"a": 1}, {"b": 2}], 1 << 20) == [('[{"a": 1},{"b": 2}]', 2)]
    assert frames([], 10) == []


def test_ws_url() -> None:
    assert ws_url("http://h:1/") == "ws://h:1/v1/ws"
    assert ws_url("https://h") == "wss://h/v1/ws"
