"""Bad input: every mistake gets its documented error code and status, and nothing is written."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.server.entities.api import Api


async def assert_nothing_written(api: Api) -> None:
    answer = await api.changes(None)
    assert answer.status == 200 and answer.body["changes"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [
        ("PUT", "/v1/collections/tasks/records/t", b"{not json", {}, 400, "malformed_json"),
        ("PUT", "/v1/collections/tasks/records/t", b"[1, 2]", {}, 400, "malformed_json"),
        ("PATCH", "/v1/collections/tasks/records/t", b"", {}, 400, "malformed_json"),
        ("PUT", "/v1/collections/tasks/records/t", b'{"title": 7}', {}, 422, "schema_violation"),
        ("PUT", "/v1/collections/tasks/records/t", b"{}", {}, 422, "schema_violation"),
        ("PUT", "/v1/collections/nope/records/t", b"{}", {}, 404, "unknown_collection"),
        ("GET", "/v1/collections/nope/records/t", None, {}, 404, "unknown_collection"),
        (
            "PUT",
            "/v1/collections/tasks/records/t",
            b'{"title": "x", "balance": 9}',
            {},
            422,
            "server_field",
        ),
        (
            "PATCH",
            "/v1/collections/tasks/records/t",
            b'{"title": "x", "count": {"$add": [1]}}',
            {},
            422,
            "invalid_operator",
        ),
        ("PUT", "/v1/collections/tasks/records/.hidden", b"{}", {}, 400, "invalid_id"),
        ("PUT", "/v1/collections/tasks/records/" + "x" * 201, b"{}", {}, 400, "invalid_id"),
        (
            "PUT",
            "/v1/collections/tasks/records/t",
            b'{"title": "x"}',
            {"If-Match": "3"},
            400,
            "invalid_field",
        ),
        (
            "PUT",
            "/v1/collections/tasks/records/t",
            b'{"title": "x"}',
            {"If-None-Match": '"3"'},
            400,
            "invalid_field",
        ),
        (
            "PUT",
            "/v1/collections/tasks/records/t",
            b'{"title": "x"}',
            {"Coedit-Base-Version": "x"},
            400,
            "invalid_field",
        ),
        ("POST", "/v1/batch", b"{", {}, 400, "malformed_json"),
        ("POST", "/v1/batch", b'{"writes": {}}', {}, 400, "invalid_field"),
        ("POST", "/v1/batch", b'{"writes": [], "atomic": "yes"}', {}, 400, "invalid_field"),
        ("GET", "/v1/changes?since=not-a-cursor", None, {}, 400, "invalid_cursor"),
        ("GET", "/v1/changes?limit=-1", None, {}, 400, "invalid_field"),
        ("GET", "/v1/changes?limit=100000", None, {}, 400, "invalid_field"),
        ("GET", "/v1/changes?wait=9999", None, {}, 400, "invalid_field"),
        ("GET", "/v1/changes?collections=nope", None, {}, 404, "unknown_collection"),
        ("GET", "/v1/changes?own=hide", None, {}, 400, "invalid_field"),
    ],
)
async def test_bad_requests_get_their_documented_error(
    api: Api,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    answer = await api.request(method, path, data=body, headers=headers)
    assert (answer.status, answer.error) == (status, code), answer.body
    assert answer.body["error"]["message"]
    await assert_nothing_written(api)


async def test_a_cursor_from_another_database_is_410(api: Api) -> None:
    forged: Any = base64.urlsafe_b64encode(b'[1,"someone-else",5,["tasks"],[]]')
    answer = await api.changes(forged.decode().rstrip("="))
    assert answer.status == 410 and answer.error == "cursor_expired"


async def test_a_cursor_from_the_future_is_410(api: Api) -> None:
    first = await api.changes(None)
    epoch_cursor = base64.urlsafe_b64decode(first.body["next_cursor"] + "==")
    ahead = epoch_cursor.replace(b",0,", b",99,")
    answer = await api.changes(base64.urlsafe_b64encode(ahead).decode())
    assert answer.status == 410 and answer.error == "cursor_expired"
