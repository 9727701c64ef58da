"""Tests of transform's fast path (``ot.regions``): it must give exactly what the general walk
gives, on the single-region ops it takes and on the touching ones it leaves to the walk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ot import TextOperation, transform, transform_against
from ot.regions import components_of, region_of
from ot.transform import _walk
from tests.ot.strategies import IN_CI, assert_normal_form

EXAMPLES = 5_000 if IN_CI else 500


@st.composite
def region_ops(draw: st.DrawFn, length: int) -> TextOperation:
    """A one-region edit of a text of ``length``: delete and/or insert at one position, in
    either order (both are normal forms, and the order decides ties)."""
    position = draw(st.integers(0, length))
    deleted = draw(st.integers(0, min(3, length - position)))
    inserted = draw(st.sampled_from(["", "x", "yz", "é😀"]))
    parts: list[int | str] = [-deleted, inserted]
    if draw(st.booleans()):
        parts.reverse()
    return TextOperation([c for c in (position, *parts) if c])


@st.composite
def concurrent_region_ops(draw: st.DrawFn) -> tuple[TextOperation, TextOperation]:
    """Two one-region edits of a short text, so that touching and overlapping are common."""
    length = draw(st.integers(0, 12))
    return draw(region_ops(length)), draw(region_ops(length))


def walked(a: TextOperation, b: TextOperation) -> tuple[TextOperation, TextOperation]:
    """``transform`` by the general walk alone."""
    ac, bc = a.components, b.components
    return TextOperation._of(_walk(ac, bc, True)), TextOperation._of(_walk(bc, ac, False))


@settings(max_examples=EXAMPLES, deadline=None)
@given(concurrent_region_ops())
def test_fast_path_equals_the_general_walk(ops: tuple[TextOperation, TextOperation]) -> None:
    a, b = ops
    a2, b2 = transform(a, b)
    assert (a2, b2) == walked(a, b)
    assert_normal_form(a2)
    assert_normal_form(b2)


@st.composite
def mixed_ops(draw: st.DrawFn, length: int) -> TextOperation:
    """Mostly one-region edits, sometimes an op of two regions, which leaves the fast path."""
    if length >= 3 and draw(st.integers(0, 4)) == 0:
        first = draw(st.integers(0, length - 3))
        parts = (first, "p", -1, length - first - 2, "q")
        return TextOperation([c for c in parts if c != 0])
    return draw(region_ops(length))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.data())
def test_transform_against_equals_walking_each_op(data: st.DataObject) -> None:
    # A run long enough that the op is often shifted many times before it touches another.
    length = data.draw(st.integers(0, 20))
    op = data.draw(mixed_ops(length))
    committed: list[TextOperation] = []
    for _ in range(data.draw(st.integers(1, 12))):
        committed.append(data.draw(mixed_ops(length)))
        length += committed[-1].length_delta
    walked_components = op.components
    for c in committed:
        walked_components = _walk(walked_components, c.components, True)
    rebased = transform_against(op, committed)
    assert rebased.components == walked_components
    assert rebased.region == region_of(walked_components)
    assert_normal_form(rebased)


@given(st.data())
def test_region_is_the_components_region(data: st.DataObject) -> None:
    op = data.draw(mixed_ops(data.draw(st.integers(0, 20))))
    assert op.region == region_of(op.components)
    assert op.region is op.region  # computed once


@given(st.integers(0, 50), st.integers(0, 5), st.sampled_from(["", "a", "bc"]))
def test_region_round_trips(position: int, deleted: int, inserted: str) -> None:
    op = TextOperation.from_edit(position, deleted, inserted)
    if op.is_noop:
        assert region_of(op.components) is None
    else:
        assert region_of(op.components) == (position, deleted, inserted)
        assert components_of(position, deleted, inserted) == op.components


def test_ops_of_other_shapes_have_no_region() -> None:
    shapes: list[list[int | str]] = [[3, "a", -1], [1, -1, 1, -1], ["a", 2, "b"], [2, "a", 1, -1]]
    for components in shapes:
        assert region_of(TextOperation(components).components) is None


def test_far_apart_edits_shift_the_later_one() -> None:
    early, late = TextOperation([2, -1, "xyz"]), TextOperation([8, -2])
    assert transform(early, late) == (early, TextOperation([10, -2]))
    assert transform(late, early) == (TextOperation([10, -2]), early)
