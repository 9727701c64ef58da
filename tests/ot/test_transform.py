"""Tests of ``ot.transform``: convergence (TP1), tie-breaking, transform to head, cursors."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ot import (
    TextOperation,
    compose_all,
    transform,
    transform_against,
    transform_index,
    transform_selection,
    transform_side,
)
from tests.ot.strategies import (
    IN_CI,
    assert_normal_form,
    inserts,
    ops_for,
    text_and_concurrent_ops,
    text_and_op,
    text_and_op_run,
    texts,
)

#: Every replica's convergence rests on TP1, so CI checks it on 10,000 random cases per run.
TP1_EXAMPLES = 10_000 if IN_CI else 500


# -- transform -----------------------------------------------------------------------------------


@settings(max_examples=TP1_EXAMPLES, deadline=None)
@given(text_and_concurrent_ops())
def test_transform_converges(case: tuple[str, TextOperation, TextOperation]) -> None:
    """TP1: ``b2.apply(a.apply(s)) == a2.apply(b.apply(s))``."""
    text, a, b = case
    a2, b2 = transform(a, b)
    assert b2.apply(a.apply(text)) == a2.apply(b.apply(text))


@given(text_and_concurrent_ops())
def test_transform_side_is_one_half_of_transform(
    case: tuple[str, TextOperation, TextOperation],
) -> None:
    _, a, b = case
    a2, b2 = transform(a, b)
    assert transform_side(a, b, left=True) == a2
    assert transform_side(b, a, left=False) == b2
    assert_normal_form(a2)
    assert_normal_form(b2)


@given(text_and_op())
def test_transform_past_a_noop_changes_nothing(case: tuple[str, TextOperation]) -> None:
    _, op = case
    noop = TextOperation()
    assert transform(op, noop) == (op, noop)
    assert transform(noop, op) == (noop, op)


@given(
    texts.filter(bool).flatmap(lambda t: st.tuples(st.just(t), st.integers(0, len(t)))),
    inserts,
    inserts,
)
def test_concurrent_inserts_at_one_position_put_the_left_side_first(
    case: tuple[str, int], x: str, y: str
) -> None:
    text, position = case
    a = TextOperation.from_edit(position, 0, x)
    b = TextOperation.from_edit(position, 0, y)
    a2, b2 = transform(a, b)
    expected = text[:position] + x + y + text[position:]
    assert b2.apply(a.apply(text)) == expected
    assert a2.apply(b.apply(text)) == expected


def test_tie_break_concrete() -> None:
    a = TextOperation([1, "X"])
    b = TextOperation([1, "Y"])
    a2, b2 = transform(a, b)
    assert a2 == TextOperation([1, "X"])  # a's insert stays in front of b's
    assert b2 == TextOperation([2, "Y"])  # b's insert moves past a's
    assert b2.apply(a.apply("abc")) == a2.apply(b.apply("abc")) == "aXYbc"
    b2_first, a2_second = transform(b, a)
    assert b2_first.apply(a.apply("abc")) == "aYXbc"  # the left side wins, whichever it is
    assert a2_second.apply(b.apply("abc")) == "aYXbc"


def test_overlapping_deletes_delete_the_union_once() -> None:
    a = TextOperation([1, -3])  # "abcdef" -> "aef"  (deletes "bcd")
    b = TextOperation([2, -3])  # "abcdef" -> "abf"  (deletes "cde")
    a2, b2 = transform(a, b)
    assert a2 == TextOperation([1, -1])  # only "b" is left for a to delete
    assert b2 == TextOperation([1, -1])  # only "e" is left for b to delete
    assert b2.apply(a.apply("abcdef")) == a2.apply(b.apply("abcdef")) == "af"


def test_insert_inside_a_deleted_range_survives() -> None:
    a = TextOperation([1, -4])  # "abcdef" -> "af"
    b = TextOperation([3, "X😀"])  # "abcdef" -> "abcX😀def"
    a2, b2 = transform(a, b)
    assert a2 == TextOperation([1, -2, 2, -2])  # delete around the insert, keep it
    assert b2 == TextOperation([1, "X😀"])
    assert b2.apply(a.apply("abcdef")) == a2.apply(b.apply("abcdef")) == "aX😀f"


def test_same_delete_on_both_sides_cancels() -> None:
    a = TextOperation([2, -2])
    a2, b2 = transform(a, a)
    assert a2.is_noop
    assert b2.is_noop


# -- transform to head ---------------------------------------------------------------------------


@settings(deadline=None)
@given(st.data())
def test_transform_against_equals_folding_transform(data: st.DataObject) -> None:
    text, history = data.draw(text_and_op_run(), label="history")
    op = data.draw(ops_for(text), label="op")  # made concurrently with the whole history
    head = transform_against(op, history)
    folded = functools.reduce(lambda o, h: transform(o, h)[0], history, op)
    assert head == folded
    # The server's diamond, many ops high: op then the history rebased past it gives the head
    # text with op rebased onto it.
    rebased_history = []
    current = op
    for h in history:
        current, h2 = transform(current, h)
        rebased_history.append(h2)
    assert head.apply(compose_all(history).apply(text)) == compose_all(rebased_history).apply(
        op.apply(text)
    )


def test_transform_against_concrete() -> None:
    history = [TextOperation(["ab"]), TextOperation([1, -1])]  # "xy" -> "abxy" -> "axy"
    op = TextOperation([1, "😀"])  # "xy" -> "x😀y"
    assert transform_against(op, history) == TextOperation([2, "😀"])
    assert transform_against(op, []) == op
    assert transform_against(TextOperation(), history).is_noop


# -- cursors -------------------------------------------------------------------------------------


def _positions(text: str) -> st.SearchStrategy[int]:
    return st.integers(0, len(text))


@given(st.data(), st.booleans())
def test_cursor_transform_is_monotonic(data: st.DataObject, own: bool) -> None:
    text, op = data.draw(text_and_op(), label="case")
    i, j = sorted(data.draw(st.lists(_positions(text), min_size=2, max_size=2), label="i, j"))
    assert transform_index(i, op, own=own) <= transform_index(j, op, own=own)


@given(st.data(), st.booleans())
def test_cursor_stays_within_the_new_text(data: st.DataObject, own: bool) -> None:
    text, op = data.draw(text_and_op(), label="case")
    index = data.draw(_positions(text), label="index")
    assert 0 <= transform_index(index, op, own=own) <= len(op.apply(text))


@given(st.data())
def test_cursor_keeps_to_its_retained_neighbours(data: st.DataObject) -> None:
    """An own cursor stays before the character that followed it; another's cursor stays after
    the character that preceded it (whenever that character is retained)."""
    text, op = data.draw(text_and_op(), label="case")
    index = data.draw(_positions(text), label="index")
    new = op.apply(text)
    retained = _retained(op, len(text))
    if index < len(text) and retained[index]:
        assert new[transform_index(index, op, own=True)] == text[index]
    if index > 0 and retained[index - 1]:
        assert new[transform_index(index, op, own=False) - 1] == text[index - 1]


def _retained(op: TextOperation, length: int) -> list[bool]:
    """For each character of a text of ``length``, whether ``op`` keeps it."""
    kept: list[bool] = []
    for c in op.components:
        if isinstance(c, int):
            kept.extend([c > 0] * abs(c))
    return kept + [True] * (length - len(kept))


@given(st.data(), inserts, st.booleans())
def test_own_cursor_follows_an_insert_at_the_cursor(
    data: st.DataObject, typed: str, delete_first: bool
) -> None:
    text = data.draw(texts, label="text")
    index = data.draw(_positions(text), label="index")
    deleted = 1 if delete_first and index < len(text) else 0
    op = TextOperation.from_edit(index, deleted, typed)
    assert transform_index(index, op, own=True) == index + len(typed)
    assert transform_index(index, op, own=False) == index


def test_cursor_concrete() -> None:
    op = TextOperation([2, "😀x", 1, -3])  # "abcdefg" -> "ab😀xcg"
    assert [transform_index(i, op) for i in range(8)] == [0, 1, 2, 5, 5, 5, 5, 6]
    assert [transform_index(i, op, own=True) for i in range(8)] == [0, 1, 4, 5, 5, 5, 5, 6]


@pytest.mark.parametrize("own", [False, True])
def test_selection_moves_both_ends(own: bool) -> None:
    op = TextOperation([1, "XY", -2])
    assert transform_selection((5, 1), op, own=own) == (
        transform_index(5, op, own=own),
        transform_index(1, op, own=own),
    )
    assert transform_selection((3, 1), op) == (3, 1)
    assert transform_selection((3, 1), op, own=True) == (3, 3)
