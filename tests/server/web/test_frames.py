"""The frame codec without sockets: bytes split anywhere, fragments, and every refusal."""

from __future__ import annotations

import itertools
import struct
import tracemalloc

from hypothesis import given
from hypothesis import strategies as st

from server.web.frames import (
    Close,
    Event,
    Fault,
    FrameReader,
    Message,
    Ping,
    Pong,
    close_frame,
    pong_frame,
    unmask,
)
from tests.server.web.raw_client import BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT, client_frame

LIMIT = 1000


def feed_in_pieces(data: bytes, cuts: list[int]) -> list[Event]:
    reader = FrameReader(LIMIT)
    events: list[Event] = []
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for start, end in itertools.pairwise(bounds):
        events += reader.feed(data[start:end])
    return events


def fragments(opcode: int, payload: bytes, sizes: list[int]) -> bytes:
    """``payload`` as a fragmented message: pieces of the given sizes, a ping between each."""
    pieces, rest = [], payload
    for size in sizes:
        if not rest:
            break
        pieces.append(rest[:size])
        rest = rest[size:]
    pieces.append(rest)
    frames = []
    for i, piece in enumerate(pieces):
        final = i == len(pieces) - 1
        frames.append(client_frame(opcode if i == 0 else CONTINUATION, piece, fin=final))
        if not final:
            frames.append(client_frame(PING, b"p%d" % i))
    return b"".join(frames)


texts = st.text(max_size=300).filter(lambda t: len(t.encode()) <= LIMIT)
cuts = st.lists(st.integers(min_value=0, max_value=5000), max_size=12)


@given(st.lists(texts, min_size=1, max_size=5), cuts)
def test_messages_split_at_any_byte_come_out_whole_and_in_order(
    messages: list[str], cut_at: list[int]
) -> None:
    stream = b"".join(client_frame(TEXT, m.encode()) for m in messages)
    assert feed_in_pieces(stream, cut_at) == [Message(m) for m in messages]


@given(texts, st.lists(st.integers(min_value=1, max_value=50), max_size=6), cuts)
def test_fragments_reassemble_with_control_frames_between_them(
    text: str, sizes: list[int], cut_at: list[int]
) -> None:
    stream = fragments(TEXT, text.encode(), sizes)
    events = feed_in_pieces(stream, cut_at)
    assert events[-1] == Message(text)
    assert all(isinstance(e, Ping) for e in events[:-1])


@given(st.binary(max_size=LIMIT), st.lists(st.integers(min_value=1, max_value=400), max_size=4))
def test_binary_messages_come_out_as_bytes(payload: bytes, sizes: list[int]) -> None:
    events = FrameReader(LIMIT).feed(fragments(BINARY, payload, sizes))
    assert events[-1] == Message(payload)


@given(st.binary(max_size=3000), st.binary(min_size=4, max_size=4))
def test_unmask_is_its_own_inverse_and_matches_the_rfc_loop(payload: bytes, mask: bytes) -> None:
    masked = unmask(payload, mask)
    assert masked == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert unmask(masked, mask) == payload


def test_sizes_of_every_length_encoding_are_read() -> None:
    reader = FrameReader(1 << 17)
    for size in (0, 125, 126, 65535, 65536):
        assert reader.feed(client_frame(BINARY, b"x" * size)) == [Message(b"x" * size)]


def test_control_frames_become_events_and_a_close_carries_its_code() -> None:
    stream = (
        client_frame(PING, b"hi")
        + client_frame(PONG, b"")
        + client_frame(CLOSE, struct.pack("!H", 4000) + "bye ✓".encode())
    )
    assert FrameReader(LIMIT).feed(stream) == [Ping(b"hi"), Pong(), Close(4000, "bye ✓")]
    assert FrameReader(LIMIT).feed(client_frame(CLOSE, b"")) == [Close(None, "")]


def test_exactly_the_limit_passes_and_one_byte_more_is_1009() -> None:
    assert FrameReader(LIMIT).feed(client_frame(TEXT, b"a" * LIMIT)) == [Message("a" * LIMIT)]
    [fault] = FrameReader(LIMIT).feed(client_frame(TEXT, b"a" * (LIMIT + 1)))
    assert isinstance(fault, Fault) and fault.code == 1009


def test_an_oversized_frame_is_refused_from_its_header_alone() -> None:
    header = client_frame(BINARY, b"a" * 70000)[:14]  # header and mask, no payload yet
    [fault] = FrameReader(LIMIT).feed(header)
    assert isinstance(fault, Fault) and fault.code == 1009


def test_fragments_adding_up_past_the_limit_are_1009() -> None:
    stream = client_frame(TEXT, b"a" * 600, fin=False) + client_frame(CONTINUATION, b"a" * 600)
    [fault] = FrameReader(LIMIT).feed(stream)
    assert isinstance(fault, Fault) and fault.code == 1009


REFUSED = {
    "unmasked": (client_frame(TEXT, b"hi", masked=False), 1002),
    "rsv1 (no compression negotiated)": (client_frame(TEXT, b"hi", rsv=4), 1002),
    "rsv3": (client_frame(TEXT, b"hi", rsv=1), 1002),
    "unknown opcode": (client_frame(0x3, b"hi"), 1002),
    "fragmented ping": (client_frame(PING, b"", fin=False), 1002),
    "long ping": (client_frame(PING, b"x" * 126), 1002),
    "continuation of nothing": (client_frame(CONTINUATION, b"hi"), 1002),
    "message inside a fragmented one": (
        client_frame(TEXT, b"a", fin=False) + client_frame(TEXT, b"b"),
        1002,
    ),
    "one-byte close": (client_frame(CLOSE, b"\x03"), 1002),
    "close code 1005": (client_frame(CLOSE, struct.pack("!H", 1005)), 1002),
    "close code 999": (client_frame(CLOSE, struct.pack("!H", 999)), 1002),
    "close code 5000": (client_frame(CLOSE, struct.pack("!H", 5000)), 1002),
    "invalid UTF-8 text": (client_frame(TEXT, b"\xff\xfe"), 1007),
    "UTF-8 split wrongly over fragments": (
        client_frame(TEXT, b"\xe2\x9c", fin=False) + client_frame(CONTINUATION, b"x"),
        1007,
    ),
    "invalid UTF-8 close reason": (client_frame(CLOSE, b"\x03\xe8\xff"), 1007),
}


def test_every_violation_is_refused_with_its_close_code() -> None:
    for name, (stream, code) in REFUSED.items():
        reader = FrameReader(LIMIT)
        events = reader.feed(client_frame(TEXT, b"before") + stream)
        assert events[0] == Message("before"), name
        assert isinstance(events[-1], Fault) and events[-1].code == code, name
        assert reader.feed(client_frame(TEXT, b"after")) == [], name  # the reader stays dead
        [alone] = FrameReader(LIMIT).feed(stream)[-1:]  # as the only frame of a read, too
        assert isinstance(alone, Fault) and alone.code == code, name


def test_a_text_split_inside_a_character_between_fragments_is_valid() -> None:
    check = "✓".encode()
    stream = client_frame(TEXT, check[:1], fin=False) + client_frame(CONTINUATION, check[1:])
    assert FrameReader(LIMIT).feed(stream) == [Message("✓")]


def test_server_frames_are_unmasked_and_well_formed() -> None:
    assert close_frame(1001, "server shutting down") == b"\x88\x16\x03\xe9server shutting down"
    assert len(close_frame(1000, "x" * 300)) == 2 + 125  # cut to a control frame's size
    assert pong_frame(b"hi") == b"\x8a\x02hi"


def test_a_message_of_many_tiny_fragments_holds_no_more_than_its_payload() -> None:
    # max_size bounds payload bytes; each fragment must not cost memory of its own on top, or
    # empty continuation frames (6 bytes on the wire each) grow a message without limit.
    reader = FrameReader(LIMIT)
    empty = client_frame(CONTINUATION, b"", fin=False)
    assert reader.feed(client_frame(TEXT, b"", fin=False)) == []
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            assert reader.feed(empty * 1000) == []
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 16 * LIMIT, f"{held} bytes held for an empty message"
    assert reader.feed(client_frame(CONTINUATION, b"ok")) == [Message("ok")]
