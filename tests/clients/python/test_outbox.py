"""The outbox file: a document's resumable state and the client id survive reopening, and the
state rebuilds the very ``ot.Client`` it was taken from."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients.python.outbox import Outbox
from clients.python.state import DocState, client_of, state_of
from ot import Client, Submission, TextOperation


def test_the_client_id_is_made_once(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "replica.db"
    first = Outbox(path)
    client_id = first.client_id()
    assert client_id.startswith("py-") and first.client_id() == client_id
    first.close()
    again, memory = Outbox(path), Outbox()
    assert again.client_id() == client_id
    assert memory.client_id() != client_id  # in memory: a new replica every time
    again.close()
    memory.close()


def test_a_state_with_an_op_in_flight_and_a_buffer_survives_reopening(tmp_path: Path) -> None:
    state = DocState(
        "notes",
        7,
        "héllo 😀",
        4,
        Submission(4, 7, TextOperation([6, "brave ", -1, "🌍"])),
        TextOperation(["> "]),
    )
    outbox = Outbox(tmp_path / "r.db")
    outbox.save(state)
    outbox.save(DocState("other", 0, ""))
    outbox.close()
    reopened = Outbox(tmp_path / "r.db")
    assert reopened.load("notes") == state
    assert reopened.load("notes").local_text == "> héllo brave 🌍"  # type: ignore[union-attr]
    assert reopened.documents() == ["notes", "other"]
    reopened.forget("other")
    assert reopened.load("other") is None
    reopened.close()


def test_inconsistent_states_are_refused() -> None:
    op = TextOperation(["x"])
    with pytest.raises(ValueError, match="buffer"):
        DocState("d", 1, "", 1, None, op)
    with pytest.raises(ValueError, match="known version"):
        DocState("d", 1, "", 1, Submission(1, 0, op))
    with pytest.raises(ValueError, match="seq"):
        DocState("d", 1, "", 1, Submission(2, 1, op))


edits = st.lists(st.tuples(st.booleans(), st.integers(0, 3), st.text("ab😀", max_size=3)))


@given(edits)
def test_a_captured_client_rebuilds_exactly(steps: list[tuple[bool, int, str]]) -> None:
    """Random local edits and acks: capture the state anywhere, rebuild, and both go on alike."""
    client, text, local = Client(3, last_seq=2), "abc", "abc"
    for ack, position, insert in steps:
        if ack and client.pending_count:
            state = client.state
            text = state.outstanding.apply(text)  # type: ignore[union-attr]
            client.server_ack()
        else:
            op = TextOperation.from_edit(min(position, len(local)), 0, insert or "z")
            local = op.apply(local)
            client.apply_client(op)
    captured = state_of("d", client, text)
    rebuilt = client_of(captured)
    assert (rebuilt.version, rebuilt.last_seq, rebuilt.state) == (
        client.version,
        client.last_seq,
        client.state,
    )
    assert rebuilt.resubmission() == client.resubmission()
    assert captured.local_text == local
