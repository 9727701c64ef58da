"""The conformance tests that exercise storage hardest, rerun with the op log in PostgreSQL.

The imported tests take their ``server`` (and so ``connect``) from the fixture below: a server
whose store lives in a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from server.config import Settings
from server.storage.postgres import PostgresStore
from server.web.app import make_app
from tests.server.app_server import AppServer
from tests.server.hub.test_convergence import test_random_concurrent_edits_converge
from tests.server.hub.test_documents_concurrent import (
    test_each_documents_versions_are_consecutive_under_concurrent_load,
)
from tests.server.hub.test_open_midstream import (
    test_opening_mid_stream_misses_nothing_and_repeats_nothing,
)
from tests.server.hub.test_reconnect import (
    test_committed_op_whose_ack_was_lost_is_recognised_in_the_catch_up,
    test_disconnecting_right_after_submitting_commits_each_op_once,
    test_duplicate_submit_is_acked_with_its_original_version,
    test_op_that_never_reached_the_server_is_resubmitted_with_its_seq,
)
from tests.services import POSTGRES_DSN, drop_schema, require_postgres

pytestmark = pytest.mark.postgres

__all__ = [
    "test_committed_op_whose_ack_was_lost_is_recognised_in_the_catch_up",
    "test_disconnecting_right_after_submitting_commits_each_op_once",
    "test_duplicate_submit_is_acked_with_its_original_version",
    "test_each_documents_versions_are_consecutive_under_concurrent_load",
    "test_op_that_never_reached_the_server_is_resubmitted_with_its_seq",
    "test_opening_mid_stream_misses_nothing_and_repeats_nothing",
    "test_random_concurrent_edits_converge",
]


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[TestServer]:
    await require_postgres()
    schema = f"coedit_test_{uuid.uuid4().hex[:12]}"
    store = PostgresStore(POSTGRES_DSN, schema=schema)
    server = AppServer(make_app(settings, store=store))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()
        await drop_schema(schema)
