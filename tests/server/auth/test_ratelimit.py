"""Token buckets, driven by a fake clock: no sleeping."""

from __future__ import annotations

import pytest

from server.auth.ratelimit import BucketMap, TokenBucket, rate_limited
from server.protocol.errors import ErrorCode


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_a_burst_then_asks_to_wait() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(0.5)  # one token refills in 1/rate seconds


def test_tokens_refill_with_time_up_to_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock)
    for _ in range(5):
        bucket.take()
    clock.now += 0.25  # 2.5 tokens back
    assert bucket.take(2) == 0
    assert bucket.take(1) == pytest.approx(0.05)
    clock.now += 3600
    assert bucket.full
    assert [bucket.take() for _ in range(5)] == [0] * 5
    assert bucket.take() > 0


def test_a_refused_take_takes_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    bucket.take(2)
    assert bucket.take() == pytest.approx(1.0)
    assert bucket.take() == pytest.approx(1.0)  # the refusal did not dig a deeper hole
    clock.now += 1
    assert bucket.take() == 0


def test_rate_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0, burst=1, clock=FakeClock())
    assert all(bucket.take() == 0 for _ in range(10_000))


def test_a_clock_that_steps_back_refills_nothing() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    bucket.take()
    clock.now -= 100
    assert bucket.take() > 0


def test_bucket_map_keeps_one_bucket_per_key_and_forgets_full_ones() -> None:
    clock = FakeClock()
    buckets = BucketMap(rate=1, burst=1, clock=clock, prune_every=4)
    assert buckets.take("alice") == 0
    assert buckets.take("alice") > 0
    assert buckets.take("bob") == 0  # bob has a bucket of his own
    clock.now += 10
    buckets.take("carol")  # the fourth take prunes the refilled buckets of alice and bob
    assert len(buckets) == 1


def test_rate_limited_carries_retry_after() -> None:
    error = rate_limited(0.12345, "too fast", doc="d", seq=3)
    assert error.code is ErrorCode.RATE_LIMITED
    assert error.to_message() == {
        "type": "error",
        "code": "rate_limited",
        "message": "too fast; retry in 0.123 s",
        "doc": "d",
        "seq": 3,
        "retry_after": 0.123,
    }
