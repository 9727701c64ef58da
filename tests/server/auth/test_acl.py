"""Roles, access lists, merge patches and the default policy (pure)."""

from __future__ import annotations

import pytest

from server.auth.acl import AccessList, Action, Role, initial_access_list
from server.auth.identity import ANONYMOUS, Identity
from server.auth.settings import DefaultPolicy
from server.protocol.errors import ErrorCode, ProtocolError

ALICE = Identity("alice", frozenset({"staff"}))
BOB = Identity("bob")


def test_roles_allow_actions_by_rank() -> None:
    assert Role.VIEWER.allows(Action.READ) and not Role.VIEWER.allows(Action.WRITE)
    assert Role.EDITOR.allows(Action.WRITE) and not Role.EDITOR.allows(Action.MANAGE)
    assert all(Role.OWNER.allows(action) for action in Action)


def test_the_highest_role_of_user_group_and_everyone_wins() -> None:
    acl = AccessList(
        users={"alice": Role.VIEWER, "carol": Role.OWNER},
        groups={"staff": Role.EDITOR},
        authenticated=Role.VIEWER,
    )
    assert acl.role_of(ALICE) is Role.EDITOR  # viewer by name, editor through "staff"
    assert acl.role_of(BOB) is Role.VIEWER  # every signed-in user
    assert acl.role_of(ANONYMOUS) is None  # "authenticated" never covers the anonymous
    assert AccessList(users={"carol": Role.OWNER}).role_of(BOB) is None


def test_json_round_trip() -> None:
    body = {"users": {"alice": "owner"}, "groups": {"staff": "viewer"}, "authenticated": None}
    acl = AccessList.from_json(body)
    assert acl.to_json() == body
    assert AccessList.from_json(acl.to_json()) == acl


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"users": {"alice": "admin"}},
        {"users": {"alice": None}},
        {"users": ["alice"]},
        {"users": {"alice": "owner"}, "roles": {}},
        {"users": {"alice": "editor"}},  # nobody could manage it
        {"users": {"": "owner"}},
    ],
)
def test_invalid_lists_are_refused(body: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        AccessList.from_json(body)
    assert caught.value.code is ErrorCode.INVALID_FIELD


def test_merge_patch_sets_and_removes_entries() -> None:
    acl = AccessList(users={"alice": Role.OWNER, "bob": Role.EDITOR})
    patched = acl.patched({"users": {"bob": None, "carol": "viewer"}, "authenticated": "viewer"})
    assert patched.to_json() == {
        "users": {"alice": "owner", "carol": "viewer"},
        "groups": {},
        "authenticated": "viewer",
    }
    assert acl.users["bob"] is Role.EDITOR  # lists are immutable values


def test_a_patch_may_not_remove_the_last_owner() -> None:
    acl = AccessList(users={"alice": Role.OWNER})
    with pytest.raises(ProtocolError, match="at least one owner"):
        acl.patched({"users": {"alice": "editor"}})


def test_default_policies() -> None:
    creator = initial_access_list(DefaultPolicy.CREATOR, ALICE)
    assert creator.role_of(ALICE) is Role.OWNER and creator.role_of(BOB) is None
    open_list = initial_access_list(DefaultPolicy.OPEN, ALICE)
    assert open_list.role_of(ALICE) is Role.OWNER and open_list.role_of(BOB) is Role.EDITOR
