"""Reconnect delays: exponential growth, a cap, jitter inside its window."""

from __future__ import annotations

import pytest

from clients.python.backoff import Backoff


def test_the_ceiling_doubles_up_to_the_maximum() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0)
    assert [backoff.ceiling(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.ceiling(10**6) == 30.0  # no overflow, however long the outage


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0)
    assert backoff.delay(3, uniform=lambda: 0.0) == 8.0
    assert backoff.delay(3, uniform=lambda: 0.999) == pytest.approx(0.008)


def test_partial_jitter_keeps_a_floor() -> None:
    backoff = Backoff(initial=2.0, maximum=2.0, jitter=0.25)
    delays = [backoff.delay(0, uniform=iter([u]).__next__) for u in (0.0, 0.5, 0.9999)]
    assert delays == pytest.approx([2.0, 1.75, 1.5], abs=1e-3)


def test_real_randomness_stays_in_the_window() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, jitter=0.5)
    for attempt in range(6):
        ceiling = backoff.ceiling(attempt)
        assert all(ceiling / 2 <= backoff.delay(attempt) <= ceiling for _ in range(200))


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": 0}, {"initial": 5, "maximum": 1}, {"multiplier": 0.5}, {"jitter": 1.5}],
)
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
    with pytest.raises(ValueError):
        Backoff().ceiling(-1)
