"""Hypothesis profiles for the OT suite: ``dev`` (the default, fast) and ``ci``.

``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) selects ``ci``: more examples, no deadline, no
example database, and a reproduction blob on failure. The heaviest tests (TP1, the simulations)
also scale their own example or seed counts with ``strategies.IN_CI``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from tests.ot.strategies import PROFILE

settings.register_profile("dev", max_examples=100)
settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(PROFILE)
