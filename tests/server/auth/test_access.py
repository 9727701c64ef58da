"""What the process-wide access state remembers of the tokens it verified."""

from __future__ import annotations

from server.auth.access import Access
from server.auth.identity import ANONYMOUS, Identity
from tests.server.auth.tokens import mint


async def test_a_users_groups_come_from_the_last_token_it_proved(access: Access) -> None:
    """Checks made by user name alone (the records API on a WebSocket) see the groups of the
    user's latest verified token, whichever way it came."""
    assert access.identity_of("dave") == Identity("dave")  # never seen: no groups
    await access.identify(mint("dave", groups=["staff"]), remote=None, via="ws")
    assert access.identity_of("dave").groups == {"staff"}
    await access.identify(mint("dave", groups=["ops"]), remote=None, via="rest")
    assert access.identity_of("dave").groups == {"ops"}
    assert access.identity_of(None) is ANONYMOUS
