"""Cursors: opaque round trip, refusal of anything the server did not issue, pull plans."""

from __future__ import annotations

import base64

import orjson
import pytest

from server.entities.cursor import Cursor, plan_pull
from server.entities.errors import EntityError


def test_a_cursor_round_trips() -> None:
    cursor = Cursor("e1", 42, frozenset({"a", "b"}), (("b", 7),))
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "!!!",
        "x" * 5000,
        base64.urlsafe_b64encode(b'[2,"e",1,[],[]]').decode(),
        base64.urlsafe_b64encode(b'[1,"e",-1,[],[]]').decode(),
        base64.urlsafe_b64encode(b'[1,"e",true,[],[]]').decode(),
        base64.urlsafe_b64encode(b"{}").decode(),
        base64.urlsafe_b64encode(orjson.dumps([1, "e", 1, [3], []])).decode(),
    ],
)
def test_a_bad_cursor_is_refused(text: str) -> None:
    with pytest.raises(EntityError) as caught:
        Cursor.decode(text)
    assert caught.value.code == "invalid_cursor"


def test_no_cursor_starts_at_zero_with_nothing_to_backfill() -> None:
    plan = plan_pull(None, "e", ["a", "b"])
    assert plan.cursor == Cursor("e", 0, frozenset({"a", "b"}))
    assert plan.removed == () and plan.backfill == ()


def test_gained_collections_are_backfilled_and_lost_ones_removed() -> None:
    cursor = Cursor("e", 10, frozenset({"a", "b"}), (("b", 3),))
    plan = plan_pull(cursor, "e", ["b", "c"])
    assert plan.removed == ("a",)
    assert plan.backfill == (("b", 3), ("c", 0))
    assert plan.cursor.collections == {"b", "c"}


def test_a_cursor_of_another_database_expires() -> None:
    with pytest.raises(EntityError) as caught:
        plan_pull(Cursor("other", 5, frozenset({"a"})), "e", ["a"])
    assert caught.value.code == "cursor_expired" and caught.value.status == 410
