"""The document protocol core without sockets: server messages in, messages and events out."""

from __future__ import annotations

from typing import Any

import pytest

from clients.python.errors import SyncError
from clients.python.events import PresenceChange, Rejected, RemoteChange
from clients.python.state import DocState
from clients.python.sync import DocumentSync, Phase
from ot import Submission, TextOperation

ME = "me"


def fresh(text: str = "", version: int = 0) -> DocumentSync:
    """A replica that opened the document for the first time and got ``text``."""
    sync = DocumentSync("d", ME)
    sync.connected()
    assert sync.messages_to_send() == [{"type": "open", "doc": "d"}]
    sync.receive({"type": "opened", "doc": "d", "version": version, "text": text})
    assert sync.phase is Phase.OPEN
    return sync


def op_message(version: int, op: list[Any], client: str = "other", seq: int = 1) -> dict[str, Any]:
    return {"type": "op", "doc": "d", "version": version, "op": op, "client": client, "seq": seq}


def submit(version: int, seq: int, op: list[Any]) -> dict[str, Any]:
    return {"type": "submit", "doc": "d", "version": version, "seq": seq, "op": op}


def ack(version: int, seq: int, **extra: Any) -> dict[str, Any]:
    return {"type": "ack", "doc": "d", "version": version, "seq": seq, **extra}


def test_first_open_takes_the_text() -> None:
    sync = fresh("hello", 7)
    assert (sync.text, sync.version, sync.pending_count) == ("hello", 7, 0)
    saved = sync.state_to_save()
    assert saved == DocState("d", 7, "hello")
    assert sync.state_to_save() is None  # nothing changed since


def test_one_op_in_flight_and_the_rest_buffered() -> None:
    sync = fresh("abc", 3)
    sync.edit(TextOperation([3, "d"]))
    assert sync.messages_to_send() == [submit(3, 1, [3, "d"])]
    sync.edit(TextOperation([4, "e"]))
    sync.edit(TextOperation([5, "f"]))
    assert sync.messages_to_send() == []  # composed into the buffer
    assert sync.text == "abcdef" and sync.pending_count == 2
    sync.receive(ack(4, 1))
    assert sync.messages_to_send() == [submit(4, 2, [4, "ef"])]
    sync.receive(ack(5, 2))
    assert (sync.text, sync.version, sync.pending_count) == ("abcdef", 5, 0)
    assert sync.state() == DocState("d", 5, "abcdef", last_seq=2)


def test_remote_op_is_rebased_past_local_edits() -> None:
    sync = fresh("abc")
    sync.edit(TextOperation(["X"]))  # in flight
    sync.edit(TextOperation([1, -1]))  # buffered: deletes "a"
    sync.messages_to_send()
    sync.receive(op_message(1, [3, "!"], client="bob"))
    [event] = sync.events_received()
    assert isinstance(event, RemoteChange)
    assert event.op == TextOperation([3, "!"]) and event.text == "Xbc!"
    assert (event.version, event.client) == (1, "bob")
    assert sync.text == "Xbc!"
    sync.receive(ack(2, 1))
    # The buffer goes out rebased onto version 2.
    assert sync.messages_to_send() == [submit(2, 2, [1, -1])]


def test_resume_recognises_its_own_op_in_the_catch_up() -> None:
    state = DocState("d", 4, "abc", 3, Submission(3, 4, TextOperation([3, "d"])), None)
    sync = DocumentSync("d", ME, state)
    assert sync.text == "abcd"
    sync.edit(TextOperation([4, "e"]))  # offline: buffered behind the op in flight
    sync.connected()
    assert sync.messages_to_send() == [{"type": "open", "doc": "d", "version": 4}]
    sync.receive(
        {
            "type": "opened",
            "doc": "d",
            "version": 6,
            "ops": [
                {"version": 5, "op": [3, "d"], "client": ME, "seq": 3},
                {"version": 6, "op": ["<"], "client": "bob", "seq": 1},
            ],
        }
    )
    # seq 3 is not sent again: the catch-up showed it committed. The buffer goes as seq 4.
    assert sync.messages_to_send() == [submit(6, 4, [5, "e"])]
    assert sync.text == "<abcde"


def test_resume_resubmits_the_op_in_flight_with_its_seq() -> None:
    state = DocState("d", 4, "abc", 3, Submission(3, 4, TextOperation([3, "d"])), None)
    sync = DocumentSync("d", ME, state)
    sync.connected()
    sync.messages_to_send()
    sync.receive({"type": "opened", "doc": "d", "version": 5, "ops": [op_message(5, ["<"], "bob")]})
    assert sync.messages_to_send() == [submit(5, 3, [4, "d"])]
    sync.receive(ack(6, 3, duplicate=False))
    assert (sync.text, sync.pending_count) == ("<abcd", 0)


def test_own_op_in_the_stream_counts_as_ack_and_the_late_ack_is_ignored() -> None:
    sync = fresh("ab")
    sync.edit(TextOperation([2, "c"]))
    sync.edit(TextOperation([3, "d"]))
    sync.messages_to_send()
    # The op was committed for an earlier connection's submit; this one sees it broadcast.
    sync.receive(op_message(1, [2, "c"], client=ME, seq=1))
    assert sync.messages_to_send() == [submit(1, 2, [3, "d"])]
    sync.receive(ack(1, 1, duplicate=True))
    assert sync.pending_count == 1 and sync.messages_to_send() == []
    assert sync.events_received() == []


def test_a_gap_in_versions_is_a_sync_error() -> None:
    sync = fresh("ab", 2)
    with pytest.raises(SyncError, match="skipped from 2 to 4"):
        sync.receive(op_message(4, [2, "x"]))
    with pytest.raises(SyncError):
        sync.receive({"type": "op", "doc": "d", "version": 3})  # no op field


def test_a_refused_op_is_undone_and_the_buffer_survives() -> None:
    sync = fresh("abc")
    sync.edit(TextOperation(["X"]))
    sync.edit(TextOperation([4, "Y"]))
    sync.messages_to_send()
    sync.receive(
        {"type": "error", "doc": "d", "seq": 1, "code": "op_too_large", "message": "too big"}
    )
    [event] = sync.events_received()
    assert isinstance(event, Rejected) and event.code == "op_too_large"
    assert sync.text == event.text == "abcY"
    assert sync.messages_to_send() == [submit(0, 2, [3, "Y"])]


def test_retryable_errors_resubmit_with_the_same_seq() -> None:
    sync = fresh("")
    sync.edit(TextOperation(["a"]))
    sync.messages_to_send()
    sync.receive({"type": "error", "doc": "d", "seq": 1, "code": "unavailable", "message": ""})
    assert sync.wants_retry and sync.messages_to_send() == []
    sync.retry()
    assert sync.messages_to_send() == [submit(0, 1, ["a"])]


def _resyncing(committed: bool) -> DocumentSync:
    """A replica at version 2 of "abc" with "!" in flight (seq 5) and "?" buffered, whose
    server lost the history: the current text is "abc-" plus "!" if ``committed``."""
    state = DocState("d", 2, "abc", 5, Submission(5, 2, TextOperation([3, "!"])), None)
    sync = DocumentSync("d", ME, state)
    sync.edit(TextOperation(["?"]))
    sync.connected()
    sync.messages_to_send()
    sync.receive({"type": "error", "doc": "d", "code": "resync_required", "version": 9})
    assert sync.messages_to_send() == [{"type": "open", "doc": "d"}]
    server_text = "abc!-" if committed else "abc-"
    sync.receive({"type": "opened", "doc": "d", "version": 9, "text": server_text})
    assert sync.phase is Phase.PROBING
    assert sync.messages_to_send() == [submit(2, 5, [3, "!"])]
    sync.receive(op_message(10, ["<"]))  # live ops keep coming
    return sync


def test_resync_when_the_op_in_flight_was_committed() -> None:
    sync = _resyncing(committed=True)
    sync.receive(ack(7, 5, duplicate=True))
    assert sync.phase is Phase.OPEN
    assert sync.text == "?<abc!-"
    assert sync.messages_to_send() == [submit(10, 6, ["?"])]
    [event] = [e for e in sync.events_received() if isinstance(e, RemoteChange)]
    assert event.client is None and event.text == "?<abc!-"


def test_resync_when_the_op_in_flight_was_not_committed() -> None:
    sync = _resyncing(committed=False)
    sync.receive({"type": "error", "doc": "d", "seq": 5, "code": "resync_required"})
    assert sync.text == "?<abc!-"
    assert sync.messages_to_send() == [submit(10, 6, ["?", 4, "!"])]
    assert sync.state().last_seq == 6


def test_presence_moves_through_pending_edits_both_ways() -> None:
    sync = fresh("hello world", 1)
    sync.edit(TextOperation(["> "]))
    sync.messages_to_send()
    # Bob's cursor after "hello" on the server text lands after "> hello" locally.
    sync.receive({"type": "presence", "doc": "d", "client": "bob", "user": "b", "cursor": [5, 5]})
    [event] = sync.events_received()
    assert event == PresenceChange("bob", "b", (7, 7), None)
    # Ours, before "world" locally, is sent in server coordinates at version 1.
    sync.set_presence((8, 13), {"name": "me"})
    [message] = sync.messages_to_send()
    assert message == {
        "type": "presence",
        "doc": "d",
        "version": 1,
        "cursor": [6, 11],
        "info": {"name": "me"},
    }
    sync.receive(op_message(2, ["++"], client="bob"))
    assert sync.presence["bob"].cursor == (9, 9)
    sync.disconnected()
    assert sync.presence == {}
    assert [e.cursor for e in sync.events_received() if isinstance(e, PresenceChange)] == [None]


def test_presence_is_announced_again_on_reconnect() -> None:
    sync = fresh("abc")
    sync.set_presence((1, 2))
    sync.messages_to_send()
    sync.disconnected()
    sync.connected()
    sync.messages_to_send()
    sync.receive({"type": "opened", "doc": "d", "version": 0, "ops": []})
    assert sync.messages_to_send() == [
        {"type": "presence", "doc": "d", "version": 0, "cursor": [1, 2]}
    ]


def test_open_failure_is_reported() -> None:
    sync = DocumentSync("d", ME)
    sync.connected()
    sync.receive({"type": "error", "doc": "d", "code": "forbidden", "message": "no"})
    assert sync.phase is Phase.CLOSED
    assert sync.failure is not None and sync.failure.code == "forbidden"


def test_resync_takes_seq_out_of_order_as_committed() -> None:
    sync = _resyncing(committed=True)
    sync.receive({"type": "error", "doc": "d", "seq": 5, "code": "seq_out_of_order"})
    assert sync.text == "?<abc!-"
    assert sync.messages_to_send() == [submit(10, 6, ["?"])]


def test_seq_out_of_order_for_the_op_in_flight_starts_a_resync() -> None:
    sync = fresh("abc")
    sync.edit(TextOperation([3, "!"]))
    sync.messages_to_send()
    sync.receive({"type": "error", "doc": "d", "seq": 1, "code": "seq_out_of_order"})
    assert sync.messages_to_send() == [{"type": "open", "doc": "d"}]
    assert sync.text == "abc!"  # nothing is undone: the op was committed, its ack was lost
