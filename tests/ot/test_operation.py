"""Tests of ``ot.operation``: normal form, apply, compose, invert, lengths, diff, JSON, values."""

from __future__ import annotations

import copy
import functools
import json
import pickle

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ot import MAX_LENGTH, InvalidOperation, LengthMismatch, TextOperation, compose_all
from ot.components import Component
from tests.ot.strategies import (
    assert_normal_form,
    inserts,
    ops_for,
    raw_components,
    text_and_op,
    text_and_op_run,
    texts,
)


def reference_apply(components: list[Component], text: str) -> str:
    """Apply raw, unnormalized components the obvious way: the model ``apply`` must match."""
    parts, pos = [], 0
    for c in components:
        if isinstance(c, str):
            parts.append(c)
        elif c > 0:
            parts.append(text[pos : pos + c])
            pos += c
        else:
            pos -= c
    return "".join(parts) + text[pos:]


# -- normal form ---------------------------------------------------------------------------------


@given(st.data())
def test_normalizing_keeps_the_effect_and_is_idempotent(data: st.DataObject) -> None:
    text = data.draw(texts, label="text")
    raw = data.draw(raw_components(text), label="raw")
    op = TextOperation(raw)
    assert_normal_form(op)
    assert op.apply(text) == reference_apply(raw, text)


def test_normalizing_merges_same_kind_neighbours_and_drops_the_trailing_retain() -> None:
    op = TextOperation([1, 2, "a", "b", -1, -2, 4])
    assert op.components == (3, "ab", -3)
    assert TextOperation([3]).components == ()
    assert TextOperation([2, -1, 2]).components == (2, -1)


def test_normalizing_keeps_the_order_of_a_delete_and_an_insert() -> None:
    insert_first = TextOperation(["x", -1])
    delete_first = TextOperation([-1, "x"])
    assert insert_first.components == ("x", -1)
    assert delete_first.components == (-1, "x")
    assert insert_first != delete_first
    assert insert_first.apply("ab") == delete_first.apply("ab") == "xb"


# -- apply and lengths ---------------------------------------------------------------------------


@given(text_and_op())
def test_length_delta_is_the_change_in_length(case: tuple[str, TextOperation]) -> None:
    text, op = case
    assert len(op.apply(text)) == len(text) + op.length_delta


@given(text_and_op(), st.integers(-3, 3))
def test_apply_raises_length_mismatch_iff_the_op_reads_past_the_end(
    case: tuple[str, TextOperation], extra: int
) -> None:
    text, op = case
    # A text a little shorter or longer than the op's base: both sides of the boundary.
    other = (text + "xyz")[: max(0, op.base_length + extra)]
    if op.base_length > len(other):
        with pytest.raises(LengthMismatch) as caught:
            op.apply(other)
        assert (caught.value.base_length, caught.value.text_length) == (
            op.base_length,
            len(other),
        )
    else:
        assert len(op.apply(other)) == len(other) + op.length_delta


def test_apply_error_names_both_lengths() -> None:
    op = TextOperation([5, -3, "x"])
    with pytest.raises(LengthMismatch, match=r"\b8\b.*\b6\b") as caught:
        op.apply("abc😀ef")
    assert caught.value.base_length == 8
    assert caught.value.text_length == 6


def test_apply_counts_code_points() -> None:
    text = "👩\u200d👩\u200d👧e\u0301\r\n"
    assert len(text) == 9
    assert TextOperation([5, -1, "E", 1, -2]).apply(text) == "👩\u200d👩\u200d👧E\u0301"
    assert TextOperation([2, "X"]).apply(text) == "👩\u200dX👩\u200d👧e\u0301\r\n"


def test_lengths_of_a_concrete_op() -> None:
    op = TextOperation([2, -3, "😀x", 1, "y", -1])
    assert op.base_length == 7
    assert op.length_delta == -1
    assert not op.is_noop
    assert TextOperation().is_noop
    assert TextOperation().apply("abc") == "abc"


# -- compose -------------------------------------------------------------------------------------


@given(text_and_op_run(min_size=2, max_size=2))
def test_compose_is_apply_then_apply(case: tuple[str, list[TextOperation]]) -> None:
    text, (a, b) = case
    ab = a.compose(b)
    assert ab.apply(text) == b.apply(a.apply(text))
    assert ab.length_delta == a.length_delta + b.length_delta
    assert_normal_form(ab)


@given(text_and_op_run())
def test_compose_all_equals_folding_compose(case: tuple[str, list[TextOperation]]) -> None:
    text, run = case
    composed = compose_all(run)
    assert composed == functools.reduce(TextOperation.compose, run, TextOperation())
    assert composed.apply(text) == functools.reduce(lambda s, op: op.apply(s), run, text)
    assert_normal_form(composed)


def test_compose_concrete() -> None:
    a = TextOperation([1, "XY", -1])  # "abc" -> "aXYc"
    b = TextOperation([2, -2, "Z"])  # "aXYc" -> "aXZ"
    assert a.compose(b) == TextOperation([1, "X", -2, "Z"])
    assert a.compose(b).apply("abc") == "aXZ"
    assert compose_all([]) == TextOperation()
    assert compose_all([a]) == a


# -- invert --------------------------------------------------------------------------------------


@given(text_and_op())
def test_invert_undoes_the_op(case: tuple[str, TextOperation]) -> None:
    text, op = case
    inverse = op.invert(text)
    assert inverse.apply(op.apply(text)) == text
    assert inverse.invert(op.apply(text)) == op
    assert_normal_form(inverse)


@given(text_and_op())
def test_invert_raises_length_mismatch_on_a_short_text(case: tuple[str, TextOperation]) -> None:
    text, op = case
    if op.base_length == 0:
        return
    with pytest.raises(LengthMismatch):
        op.invert(text[: op.base_length - 1])


def test_invert_of_delete_then_insert() -> None:
    op = TextOperation([1, -2, "XY😀"])
    assert op.apply("abcd") == "aXY😀d"
    inverse = op.invert("abcd")
    assert inverse == TextOperation([1, "bc", -3])
    assert inverse.apply("aXY😀d") == "abcd"


# -- from_edit and from_diff ---------------------------------------------------------------------


def test_from_edit_builds_a_single_region_edit() -> None:
    assert TextOperation.from_edit(2, 1, "😀").components == (2, -1, "😀")
    assert TextOperation.from_edit(0, 3, "").components == (-3,)
    assert TextOperation.from_edit(4, 0, "x").components == (4, "x")
    assert TextOperation.from_edit(7, 0, "").is_noop


@pytest.mark.parametrize(
    ("position", "delete_count", "insert_text", "message"),
    [
        (-1, 0, "x", "position must be a non-negative int, got -1"),
        (1.0, 0, "x", "position must be a non-negative int, got 1.0"),
        (True, 0, "x", "position must be a non-negative int, got True"),
        (MAX_LENGTH + 1, 0, "x", f"position must be a non-negative int, got {MAX_LENGTH + 1}"),
        (0, -2, "", "delete_count must be a non-negative int, got -2"),
        (0, "2", "", "delete_count must be a non-negative int, got '2'"),
        (0, None, "", "delete_count must be a non-negative int, got None"),
        (0, 1, b"x", "insert_text must be a str, got bytes"),
        (0, 0, None, "insert_text must be a str, got NoneType"),
        (0, 0, "a\ud800", "insert_text contains a lone surrogate code point"),
        (0, 1, "\udc00", "insert_text contains a lone surrogate code point"),
    ],
)
def test_from_edit_rejects_bad_arguments(
    position: object, delete_count: object, insert_text: object, message: str
) -> None:
    with pytest.raises(InvalidOperation) as caught:
        TextOperation.from_edit(position, delete_count, insert_text)  # type: ignore[arg-type]
    assert str(caught.value) == message


@given(st.data())
def test_from_diff_is_the_minimal_single_region_edit(data: st.DataObject) -> None:
    old = data.draw(texts, label="old")
    # Either any text, or one an op made from the old text (sharing much with it, as edits do).
    new = data.draw(st.one_of(texts, ops_for(old).map(lambda op: op.apply(old))), label="new")
    op = TextOperation.from_diff(old, new)
    assert op.apply(old) == new
    assert_normal_form(op)
    if old == new:
        assert op.is_noop
        return
    # A single region: an optional retain, then an optional delete, then an optional insert.
    prefix = op.components[0] if op.components and _is_retain(op.components[0]) else 0
    assert isinstance(prefix, int)
    assert op == TextOperation.from_edit(prefix, op.base_length - prefix, _inserted(op))
    # The common prefix is maximal; so is the common suffix within what the prefix leaves.
    suffix = len(old) - op.base_length
    shorter = min(len(old), len(new))
    assert old[:prefix] == new[:prefix]
    assert prefix == shorter or old[prefix] != new[prefix]
    assert prefix + suffix <= shorter
    assert old[len(old) - suffix :] == new[len(new) - suffix :]
    assert prefix + suffix == shorter or old[-suffix - 1] != new[-suffix - 1]


def _is_retain(c: Component) -> bool:
    return isinstance(c, int) and c > 0


def _inserted(op: TextOperation) -> str:
    return "".join(c for c in op.components if isinstance(c, str))


@pytest.mark.parametrize(
    ("old", "new", "components"),
    [
        ("abc", "abc", ()),
        ("", "", ()),
        ("", "😀", ("😀",)),
        ("aaa", "aa", (2, -1)),
        ("aa", "aaa", (2, "a")),
        ("x😀y", "x😁y", (1, -1, "😁")),
        ("e\u0301", "e\u0300", (1, -1, "\u0300")),
        ("a\r\nb", "a\nb", (1, -1)),
        ("👩\u200d👩\u200d👧", "👩\u200d👧", (2, -2)),
        ("abcabc", "abc", (3, -3)),
    ],
)
def test_from_diff_concrete(old: str, new: str, components: tuple[Component, ...]) -> None:
    assert TextOperation.from_diff(old, new).components == components


# -- JSON ----------------------------------------------------------------------------------------


@given(text_and_op())
def test_json_round_trip(case: tuple[str, TextOperation]) -> None:
    _, op = case
    assert TextOperation.from_json(op.to_json()) == op
    # Through the wire encoders too: ASCII-escaped JSON spells astral characters as surrogate
    # pairs, which must decode back to one code point each.
    assert TextOperation.from_json(json.loads(json.dumps(op.to_json()))) == op
    assert TextOperation.from_json(orjson.loads(orjson.dumps(op.to_json()))) == op


def test_to_json_is_the_wire_form() -> None:
    op = TextOperation([2, 1, "😀", -1])
    assert op.to_json() == [3, "😀", -1]
    assert json.dumps(op.to_json()) == '[3, "\\ud83d\\ude00", -1]'


# -- value semantics -----------------------------------------------------------------------------


def test_operations_are_immutable() -> None:
    op = TextOperation([1, "x"])
    with pytest.raises(AttributeError):
        op._components = ()
    with pytest.raises(AttributeError):
        op.extra = 1
    wire = op.to_json()
    wire.append(-1)
    assert op.components == (1, "x")
    built = TextOperation([2]).compose(TextOperation([1, "y"]))  # made through the fast path
    with pytest.raises(AttributeError):
        built._components = ()


def test_operations_copy_and_pickle() -> None:
    op = TextOperation([3, -1, "x"])
    assert op.region == (3, 1, "x")  # a region already computed is not carried, but recomputed
    for copied in (copy.copy(op), copy.deepcopy(op), pickle.loads(pickle.dumps(op))):
        assert copied == op and copied.region == op.region
        with pytest.raises(AttributeError):
            copied._components = ()


def test_from_normal_json_wraps_a_normal_wire_form_as_it_is() -> None:
    wire: list[int | str] = [3, "hi", -2]
    op = TextOperation.from_normal_json(wire)
    assert op == TextOperation(wire) and op.components == (3, "hi", -2)
    wire.append(5)  # the op holds its own tuple
    assert op.components == (3, "hi", -2)


def test_equality_and_hash_follow_the_normal_form() -> None:
    a = TextOperation([1, 2, "a", "b", 5])
    b = TextOperation([3, "ab"])
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, TextOperation([3, "ab", -1])}) == 2
    assert a != TextOperation([3, "ba"])
    assert a != TextOperation([2, "ab"])
    assert a != [3, "ab"]
    assert TextOperation() == TextOperation([7])


@given(inserts)
def test_repr_shows_the_wire_form(text: str) -> None:
    assert repr(TextOperation([text])) == f"TextOperation({[text]!r})"
