"""The out-of-band diff: exact, and it retains what the two texts share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clients.python.diff import diff
from ot import TextOperation

texts = st.text(alphabet=st.sampled_from(list("ab \n😀é中")), max_size=40)


@given(texts, texts)
def test_the_diff_turns_old_into_new(old: str, new: str) -> None:
    assert diff(old, new).apply(old) == new


@given(texts, texts)
def test_the_diff_changes_no_more_than_the_single_region_edit(old: str, new: str) -> None:
    assert changed(diff(old, new)) <= changed(TextOperation.from_diff(old, new))


def changed(op: TextOperation) -> int:
    """Characters inserted plus characters deleted."""
    return sum(len(c) if isinstance(c, str) else max(0, -c) for c in op.components)


def test_two_edits_far_apart_keep_the_middle() -> None:
    old = "alpha beta gamma delta"
    new = "ALPHA beta gamma DELTA"
    assert diff(old, new) == TextOperation([-5, "ALPHA", 12, -5, "DELTA"])
    assert TextOperation.from_diff(old, new) == TextOperation([-22, new])


def test_a_pure_insert_or_delete_is_the_single_region_edit() -> None:
    assert diff("abc", "abXc") == TextOperation([2, "X"])
    assert diff("abc", "c") == TextOperation([-2])
    assert diff("same", "same").is_noop
