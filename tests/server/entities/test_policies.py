"""Field merge policies: counters and sets converge whatever order offline writes arrive in."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.entities.config import Collection, Policy
from server.entities.errors import EntityError
from server.entities.policies import MERGED, OVERWRITTEN, apply_patch, apply_put

C = Collection(
    "c",
    fields={"n": Policy.COUNTER, "tags": Policy.SET, "bal": Policy.SERVER},
    defaults={"bal": 0},
)


def test_put_replaces_lww_fields_and_keeps_server_fields() -> None:
    merged = apply_put(C, {"a": 1, "b": 2, "bal": 10}, {"a": 3})
    assert merged.data == {"a": 3, "bal": 10}
    assert merged.touched == {"a": OVERWRITTEN, "b": OVERWRITTEN}


def test_a_new_record_takes_the_server_defaults() -> None:
    assert apply_put(C, None, {"a": 1}).data == {"a": 1, "bal": 0}


def test_patch_merges_objects_and_null_removes() -> None:
    merged = apply_patch(C, {"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": None}, "b": None})
    assert merged.data == {"a": {"x": 1}}


def test_counter_increments_and_sets() -> None:
    assert apply_patch(C, {"n": 2}, {"n": {"$inc": 3}}).data == {"n": 5}
    assert apply_patch(C, {}, {"n": {"$inc": -1.5}}).data == {"n": -1.5}
    merged = apply_patch(C, {"n": 2}, {"n": 7})
    assert merged.data == {"n": 7} and merged.touched == {"n": OVERWRITTEN}


def test_set_removes_then_adds_by_value() -> None:
    merged = apply_patch(
        C, {"tags": ["a", {"k": 1}]}, {"tags": {"$remove": [{"k": 1}], "$add": ["b", "a"]}}
    )
    assert merged.data == {"tags": ["a", "b"]} and merged.touched == {"tags": MERGED}
    assert apply_patch(C, {}, {"tags": ["x", "x"]}).data == {"tags": ["x"]}


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"bal": 5}, "server_field"),
        ({"bal": None}, "server_field"),
        ({"n": {"$inc": "1"}}, "invalid_operator"),
        ({"n": {"$inc": True}}, "invalid_operator"),
        ({"n": {"$inc": 1, "x": 2}}, "invalid_operator"),
        ({"tags": {"$add": "a"}}, "invalid_operator"),
        ({"tags": {"$inc": 1}}, "invalid_operator"),
        ({"title": {"$inc": 1}}, "invalid_operator"),
    ],
)
def test_invalid_writes_are_refused(patch: dict[str, Any], code: str) -> None:
    with pytest.raises(EntityError) as caught:
        apply_patch(C, {"tags": [], "n": 0}, patch)
    assert caught.value.code == code


def test_a_trusted_write_may_change_server_fields() -> None:
    assert apply_patch(C, {"bal": 10}, {"bal": {"$inc": -3}}, trusted=True).data == {"bal": 7}


increments = st.lists(st.integers(-1000, 1000), max_size=20)
set_ops = st.lists(
    st.tuples(
        st.sampled_from(["$add", "$remove"]), st.lists(st.sampled_from("abcdef"), max_size=3)
    ),
    max_size=12,
)


@given(increments, st.randoms())
def test_increments_commute(amounts: list[int], rng: Any) -> None:
    shuffled = list(amounts)
    rng.shuffle(shuffled)
    results = []
    for order in (amounts, shuffled):
        data: dict[str, Any] = {}
        for amount in order:
            data = apply_patch(C, data, {"n": {"$inc": amount}}).data
        results.append(data.get("n", 0))
    assert results[0] == results[1] == sum(amounts)


@given(set_ops)
def test_set_operations_match_a_python_set(ops: list[tuple[str, list[str]]]) -> None:
    data: dict[str, Any] = {"tags": []}
    model: set[str] = set()
    for op, values in ops:
        data = apply_patch(C, data, {"tags": {op: values}}).data
        model = model | set(values) if op == "$add" else model - set(values)
    assert sorted(data["tags"]) == sorted(model)
    assert len(data["tags"]) == len(set(data["tags"]))
