"""Reconnect delays: exponential backoff with jitter. Pure: no clock, no I/O."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before reconnect attempt ``n`` (0 for the first after a failure).

    The ceiling grows ``initial * multiplier**n`` up to ``maximum``; the delay is drawn from
    ``[ceiling * (1 - jitter), ceiling]``. Full jitter (``jitter=1``, the default) spreads the
    clients of a restarted server over the whole window instead of letting them reconnect in
    lockstep (the "thundering herd" that equal delays would cause).
    """

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("backoff needs 0 < initial <= maximum")
        if self.multiplier < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("backoff needs multiplier >= 1 and 0 <= jitter <= 1")

    def ceiling(self, attempt: int) -> float:
        """The longest delay before attempt ``attempt``."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        # Cap the exponent first: multiplier**attempt overflows a float long before a client
        # would stop retrying.
        grown = self.initial
        for _ in range(attempt):
            grown *= self.multiplier
            if grown >= self.maximum:
                return self.maximum
        return grown

    def delay(self, attempt: int, uniform: Callable[[], float] = random.random) -> float:
        """A jittered delay before attempt ``attempt``; ``uniform`` draws from [0, 1)."""
        ceiling = self.ceiling(attempt)
        return ceiling * (1.0 - self.jitter * uniform())
