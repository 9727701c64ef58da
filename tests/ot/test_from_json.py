"""Junk into ``TextOperation.from_json``: whatever a client sends, the answer is an operation or
``InvalidOperation`` naming the first bad item — never another exception."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ot import MAX_LENGTH, InvalidOperation, TextOperation


def first_bad_item(items: list[Any]) -> int | None:
    """The index of the first item that is not a wire-form component, by the spec: a non-zero
    int (not a bool) or a non-empty str without lone surrogates; and adjacent lengths of one
    sign, which normalizing merges, add up to at most ``MAX_LENGTH`` in size."""
    run = 0  # the merged length so far of the run of same-sign ints this item may extend
    for index, item in enumerate(items):
        if type(item) is str and item and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in item):
            run = 0
            continue
        if type(item) is int and item:
            run = run + item if (run > 0) == (item > 0) else item
            if abs(run) <= MAX_LENGTH:
                continue
        return index
    return None


def assert_parses_by_the_spec(value: Any) -> None:
    if not isinstance(value, list):
        with pytest.raises(InvalidOperation, match=r"^an operation must be a JSON array, not "):
            TextOperation.from_json(value)
        return
    bad = first_bad_item(value)
    if bad is None:
        op = TextOperation.from_json(value)
        assert op == TextOperation(value)
        assert TextOperation.from_json(op.to_json()) == op
        return
    with pytest.raises(InvalidOperation) as caught:
        TextOperation.from_json(value)
    assert str(caught.value).startswith(f"item {bad}: "), str(caught.value)
    assert len(str(caught.value)) < 200  # a message for a person, not a dump of the input


_lone_surrogates = st.characters(categories=["Cs"])
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),  # zero and small retains and deletes
    st.integers(),
    st.sampled_from([MAX_LENGTH, -MAX_LENGTH, MAX_LENGTH + 1, -MAX_LENGTH - 1, 10**30, -(10**30)]),
    st.floats(),  # 1.0 too: a float is never a length
    st.text(max_size=6),  # "" too
    st.tuples(st.text(max_size=3), _lone_surrogates, st.text(max_size=3)).map("".join),
)
_json_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=12,
)


@given(_json_values)
def test_any_json_value_parses_or_raises_invalid_operation(value: Any) -> None:
    assert_parses_by_the_spec(value)


@given(st.lists(st.one_of(st.integers(1, 5), st.integers(-5, -1), st.text(min_size=1))), st.data())
def test_one_junk_item_among_valid_ones_is_named(valid: list[Any], data: st.DataObject) -> None:
    junk = data.draw(_json_values.filter(lambda v: first_bad_item([v]) == 0), label="junk")
    index = data.draw(st.integers(0, len(valid)), label="index")
    value = [*valid[:index], junk, *valid[index:]]
    assert first_bad_item(value) == index
    assert_parses_by_the_spec(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([0], "item 0: 0 is neither a retain nor a delete"),
        ([1, "", -1], "item 1: an insert must not be empty"),
        ([1, 2, 3.0], "item 2: expected a non-zero int or a non-empty string, got float 3.0"),
        ([True], "item 0: expected a non-zero int or a non-empty string, got bool True"),
        ([False], "item 0: expected a non-zero int or a non-empty string, got bool False"),
        ([None], "item 0: expected a non-zero int or a non-empty string, got NoneType None"),
        (["a", [1]], "item 1: expected a non-zero int or a non-empty string, got list [1]"),
        ([{"retain": 1}], "item 0: expected a non-zero int or a non-empty string, got dict"),
        ([float("nan")], "item 0: expected a non-zero int or a non-empty string, got float nan"),
        ([10**30], f"item 0: length {10**30} exceeds the maximum {MAX_LENGTH}"),
        ([1, -(MAX_LENGTH + 1)], f"item 1: length {-(MAX_LENGTH + 1)} exceeds the maximum"),
        (["ok", "a\ud800"], "item 1: insert contains a lone surrogate code point"),
        (["\udfff"], "item 0: insert contains a lone surrogate code point"),
        (["\ud83d\ude00"], "item 0: insert contains a lone surrogate code point"),  # a UTF-16 pair
    ],
)
def test_junk_items_are_named(value: list[Any], message: str) -> None:
    with pytest.raises(InvalidOperation) as caught:
        TextOperation.from_json(value)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("value", [None, 5, 1.5, True, "[1]", {"ops": [1]}, (1, "a"), b"[1]"])
def test_non_list_values_are_rejected(value: Any) -> None:
    with pytest.raises(InvalidOperation) as caught:
        TextOperation.from_json(value)
    assert str(caught.value) == f"an operation must be a JSON array, not {type(value).__name__}"


def test_the_largest_lengths_are_accepted() -> None:
    op = TextOperation.from_json([MAX_LENGTH, "a", -MAX_LENGTH])
    assert op.components == (MAX_LENGTH, "a", -MAX_LENGTH)


def test_a_merged_run_longer_than_the_maximum_is_rejected() -> None:
    # Each item is within bounds, but normalizing merges them into one length that a browser
    # could not hold exactly, and that from_json would then refuse to read back.
    with pytest.raises(InvalidOperation, match=r"^item 1: "):
        TextOperation.from_json([MAX_LENGTH, 1, "a"])
    with pytest.raises(InvalidOperation, match=r"^item 2: "):
        TextOperation.from_json(["a", -MAX_LENGTH, -MAX_LENGTH])


@pytest.mark.parametrize("depth", [10, 100, 1000, 1023])
def test_deeply_nested_junk_is_named_too(depth: int) -> None:
    # orjson, the server's parser, accepts nesting up to 1024 levels: too deep for repr().
    nested = orjson.loads("[" * depth + "]" * depth)
    with pytest.raises(InvalidOperation, match=r"^item 1: expected a non-zero int"):
        TextOperation.from_json([1, nested])
    nested_dicts = orjson.loads('{"a":' * depth + "1" + "}" * depth)
    with pytest.raises(InvalidOperation, match=r"^item 0: expected a non-zero int"):
        TextOperation.from_json([nested_dicts])


def test_a_self_containing_list_is_named() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(InvalidOperation, match=r"^item 0: "):
        TextOperation.from_json(loop)
