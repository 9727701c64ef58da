"""What the process-wide access state keeps: the identities of the tokens it verified, and the
audit log for as long as it is told."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.auth.access import Access
from server.auth.acl import Resource
from server.auth.events import AuditKind
from server.auth.identity import ANONYMOUS, Identity
from server.auth.settings import AuthSettings
from tests.server.auth.conftest import AUTH, ShiftedClock
from tests.server.auth.tokens import mint


@pytest.fixture
def auth_settings() -> AuthSettings:
    return replace(AUTH, audit_keep_days=1)


async def test_a_users_groups_come_from_the_last_token_it_proved(access: Access) -> None:
    """Checks made by user name alone (the records API on a WebSocket) see the groups of the
    user's latest verified token, whichever way it came."""
    assert access.identity_of("dave") == Identity("dave")  # never seen: no groups
    await access.identify(mint("dave", groups=["staff"]), remote=None, via="ws")
    assert access.identity_of("dave").groups == {"staff"}
    await access.identify(mint("dave", groups=["ops"]), remote=None, via="rest")
    assert access.identity_of("dave").groups == {"ops"}
    assert access.identity_of(None) is ANONYMOUS


async def test_audit_entries_past_the_retention_are_deleted(
    access: Access, clock: ShiftedClock
) -> None:
    def opened(version: int) -> None:
        access.audit.record(
            AuditKind.DOC_OPENED, user="alice", remote=None, resource=Resource.doc("d"),
            version=version, via="ws",
        )  # fmt: skip

    opened(1)
    opened(2)
    await access.audit.flush()
    assert await access.prune_audit() == 0  # a day has not passed
    clock.offset += 1.5 * 86_400
    opened(3)
    opened(4)
    await access.audit.flush()
    assert await access.prune_audit() == 2
    kept = await access.store.read_audit(None, 0, 10)
    assert [entry.detail["version"] for entry in kept] == [3, 4]  # 3: kept for being recent
