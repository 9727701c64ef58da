"""Tests of ``ot.client``: each state's handlers (next state, ops returned) and ``Client``'s
version and seq bookkeeping. The client-server simulation is in ``test_simulation.py``."""

from __future__ import annotations

import pytest

from ot import (
    AwaitingConfirm,
    AwaitingWithBuffer,
    Client,
    Submission,
    Synchronized,
    TextOperation,
)

# Three ops on "abc": two local edits in a row, and a remote op concurrent with both. The remote
# op inserts where LOCAL_1 does (a tie the client's op must win, as it does on the server, where
# transform_against gives it the left side) and deletes the "c" that LOCAL_2 inserts after.
LOCAL_1 = TextOperation([1, "X"])  # "abc" -> "aXbc"
LOCAL_2 = TextOperation([4, "Y"])  # "aXbc" -> "aXbcY"
REMOTE = TextOperation(["😀", 1, "Z", 1, -1])  # "abc" -> "😀aZb"
REMOTE_REBASED = TextOperation(["😀", 2, "Z", 1, -1])  # REMOTE past LOCAL_1, and then LOCAL_2


# -- the states ----------------------------------------------------------------------------------


def test_synchronized_sends_a_local_edit_at_once() -> None:
    assert Synchronized().apply_client(LOCAL_1) == (AwaitingConfirm(LOCAL_1), LOCAL_1)


def test_synchronized_applies_a_remote_op_unchanged() -> None:
    assert Synchronized().apply_server(REMOTE) == (Synchronized(), REMOTE)


def test_synchronized_rejects_an_ack() -> None:
    with pytest.raises(RuntimeError, match="no operation was in flight"):
        Synchronized().server_ack()


def test_awaiting_confirm_buffers_a_local_edit() -> None:
    assert AwaitingConfirm(LOCAL_1).apply_client(LOCAL_2) == (
        AwaitingWithBuffer(LOCAL_1, LOCAL_2),
        None,
    )


def test_awaiting_confirm_rebases_the_outstanding_op_past_a_remote_op() -> None:
    state, local = AwaitingConfirm(LOCAL_1).apply_server(REMOTE)
    assert state == AwaitingConfirm(TextOperation([2, "X"]))
    assert local == REMOTE_REBASED
    # Client and server end on the same text, X before Z: the client applies the rebased remote
    # op, the server will apply the rebased outstanding op.
    assert local.apply(LOCAL_1.apply("abc")) == "😀aXZb"
    assert state.outstanding.apply(REMOTE.apply("abc")) == "😀aXZb"


def test_awaiting_confirm_goes_back_to_synchronized_on_ack() -> None:
    assert AwaitingConfirm(LOCAL_1).server_ack() == (Synchronized(), None)


def test_awaiting_with_buffer_composes_local_edits_into_the_buffer() -> None:
    local_3 = TextOperation([-1])
    state, to_send = AwaitingWithBuffer(LOCAL_1, LOCAL_2).apply_client(local_3)
    assert state == AwaitingWithBuffer(LOCAL_1, TextOperation([-1, 3, "Y"]))
    assert to_send is None


def test_awaiting_with_buffer_rebases_both_ops_past_a_remote_op() -> None:
    state, local = AwaitingWithBuffer(LOCAL_1, LOCAL_2).apply_server(REMOTE)
    assert state == AwaitingWithBuffer(TextOperation([2, "X"]), TextOperation([5, "Y"]))
    assert local == REMOTE_REBASED
    assert local.apply(LOCAL_2.apply(LOCAL_1.apply("abc"))) == "😀aXZbY"
    assert state.buffer.apply(state.outstanding.apply(REMOTE.apply("abc"))) == "😀aXZbY"


def test_awaiting_with_buffer_sends_the_buffer_on_ack() -> None:
    assert AwaitingWithBuffer(LOCAL_1, LOCAL_2).server_ack() == (AwaitingConfirm(LOCAL_2), LOCAL_2)


def test_states_are_immutable() -> None:
    state = AwaitingConfirm(LOCAL_1)
    with pytest.raises(AttributeError):
        state.outstanding = LOCAL_2  # type: ignore[misc]


# -- Client --------------------------------------------------------------------------------------


def test_client_numbers_submissions_and_counts_versions() -> None:
    client = Client(7)
    assert (client.pending_count, client.outstanding_seq) == (0, None)

    assert client.apply_client(LOCAL_1) == Submission(1, 7, LOCAL_1)
    assert (client.pending_count, client.outstanding_seq) == (1, 1)
    assert client.apply_client(LOCAL_2) is None
    assert client.pending_count == 2

    assert client.apply_server(REMOTE) == REMOTE_REBASED  # committed at version 8, before ours
    assert client.version == 8

    # Our op became version 9; the buffer, rebased past REMOTE, goes out against it.
    assert client.server_ack() == Submission(2, 9, TextOperation([5, "Y"]))
    assert (client.version, client.pending_count, client.outstanding_seq) == (9, 1, 2)

    assert client.server_ack() is None
    assert (client.version, client.pending_count, client.outstanding_seq, client.last_seq) == (
        10,
        0,
        None,
        2,
    )
    assert client.state == Synchronized()


def test_client_rejects_an_ack_while_synchronized_and_changes_nothing() -> None:
    client = Client(3, last_seq=5)
    with pytest.raises(RuntimeError):
        client.server_ack()
    assert (client.version, client.last_seq, client.state) == (3, 5, Synchronized())


def test_client_continues_the_seq_it_is_given() -> None:
    client = Client(0, last_seq=41)
    submission = client.apply_client(LOCAL_1)
    assert submission is not None
    assert submission.seq == 42


def test_resubmission_repeats_the_outstanding_op_with_its_seq_at_the_current_version() -> None:
    client = Client(0)
    assert client.resubmission() is None  # nothing in flight
    client.apply_client(LOCAL_1)
    client.apply_client(LOCAL_2)
    # Catching up after a reconnect: a remote op committed before ours.
    client.apply_server(REMOTE)
    outstanding = TextOperation([2, "X"])  # LOCAL_1 rebased past REMOTE
    assert client.resubmission() == Submission(1, 1, outstanding)
    assert client.resubmission() == Submission(1, 1, outstanding)  # a query: asking again is safe
    assert client.last_seq == 1
    client.server_ack()
    resent = client.resubmission()
    assert resent is not None
    assert (resent.seq, resent.base_version) == (2, 2)
    client.server_ack()
    assert client.resubmission() is None
