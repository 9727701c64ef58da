"""Shared test configuration.

Tests that need an outside service (PostgreSQL, Redis, Node.js) skip with a reason when it is
missing. With ``COEDIT_REQUIRE_SERVICES=1`` (set by ``.ci/run``) such a skip fails the run instead:
in CI every test must run.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any, NoReturn

import pytest

REQUIRE_SERVICES = os.environ.get("COEDIT_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the current test because a service is missing, or fail it when services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (COEDIT_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Under ``COEDIT_REQUIRE_SERVICES=1`` any skip, however raised, counts as a failure."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under COEDIT_REQUIRE_SERVICES=1: {report.longrepr}"
