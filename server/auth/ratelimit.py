"""Token buckets for abuse limits. Pure: the clock is injected, so tests need no sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

from server.protocol.errors import ErrorCode, ProtocolError

Clock = Callable[[], float]


class TokenBucket:
    """Holds up to ``burst`` tokens and refills at ``rate`` per second; ``rate`` 0 is unlimited."""

    def __init__(self, rate: float, burst: float, *, clock: Clock = time.monotonic) -> None:
        if rate < 0 or burst < 1:
            raise ValueError(f"a bucket needs rate >= 0 and burst >= 1, got {rate} and {burst}")
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()

    def take(self, amount: float = 1.0) -> float:
        """Take ``amount`` tokens and return 0, or take none and return the seconds to wait."""
        if self._rate == 0:
            return 0.0
        self._refill()
        if self._tokens >= amount:
            self._tokens -= amount
            return 0.0
        return (amount - self._tokens) / self._rate

    @property
    def full(self) -> bool:
        """True when the bucket has refilled completely (it may then be forgotten)."""
        self._refill()
        return self._tokens >= self._burst

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now


class BucketMap:
    """One bucket per key (a user), created on demand; full buckets are forgotten now and then."""

    def __init__(
        self, rate: float, burst: float, *, clock: Clock = time.monotonic, prune_every: int = 1000
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._prune_every = prune_every
        self._buckets: dict[Hashable, TokenBucket] = {}
        self._takes = 0

    def take(self, key: Hashable, amount: float = 1.0) -> float:
        """Take from ``key``'s bucket, as ``TokenBucket.take``."""
        if self._rate == 0:
            return 0.0
        self._takes += 1
        if self._takes % self._prune_every == 0:
            self._prune()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst, clock=self._clock)
        return bucket.take(amount)

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self) -> None:
        # A full bucket is indistinguishable from a new one, so dropping it changes nothing.
        for key in [key for key, bucket in self._buckets.items() if bucket.full]:
            del self._buckets[key]


def rate_limited(retry_after: float, message: str, **context: Any) -> ProtocolError:
    """The ``rate_limited`` error; ``retry_after`` seconds travel with it for the client."""
    seconds = max(0.001, round(retry_after, 3))
    return ProtocolError(
        ErrorCode.RATE_LIMITED,
        f"{message}; retry in {seconds:g} s",
        retry_after=seconds,
        **context,
    )
