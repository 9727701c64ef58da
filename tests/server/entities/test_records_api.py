"""Records over REST: create, read with ETags, replace, merge, delete and re-create."""

from __future__ import annotations

import gzip

import aiohttp

from tests.server.entities.api import Api, Replica


async def test_create_read_and_304(api: Api) -> None:
    created = await api.put("tasks", "t1", {"title": "buy milk"})
    assert created.status == 201 and created.headers["ETag"] == '"1"'
    assert created.body["data"] == {"title": "buy milk", "balance": 0}
    read = await api.get("tasks", "t1")
    assert read.status == 200 and read.headers["ETag"] == '"1"'
    assert read.body == {k: v for k, v in created.body.items() if k != "conflicts"}
    assert (await api.get("tasks", "t1", if_none_match='"1"')).status == 304
    assert (await api.get("tasks", "t1", if_none_match='"0"')).status == 200


async def test_a_stale_if_match_gets_412_with_the_current_record(api: Api) -> None:
    await api.put("tasks", "t1", {"title": "a"})
    await api.put("tasks", "t1", {"title": "b"})
    stale = await api.put("tasks", "t1", {"title": "c"}, if_match='"1"')
    assert stale.status == 412 and stale.error == "precondition_failed"
    assert stale.body["error"]["current"]["version"] == 2
    assert stale.body["error"]["current"]["data"]["title"] == "b"
    fresh = await api.put("tasks", "t1", {"title": "c"}, if_match='"2"')
    assert fresh.status == 200 and fresh.body["version"] == 3


async def test_if_none_match_star_creates_only(api: Api) -> None:
    assert (await api.put("tasks", "t1", {"title": "a"}, if_none_match="*")).status == 201
    again = await api.put("tasks", "t1", {"title": "b"}, if_none_match="*")
    assert again.status == 412 and again.body["error"]["current"]["data"]["title"] == "a"


async def test_a_collection_can_require_a_precondition(api: Api) -> None:
    blind = await api.put("notes", "n1", {"text": "x"})
    assert blind.status == 428 and blind.error == "precondition_required"
    assert (await api.put("notes", "n1", {"text": "x"}, if_none_match="*")).status == 201
    assert (await api.patch("notes", "n1", {"text": "y"}, if_match='"1"')).status == 200
    assert (await api.delete("notes", "n1")).status == 428


async def test_delete_then_recreate(api: Api) -> None:
    replica = Replica()
    await api.put("tasks", "t1", {"title": "a", "count": {"$inc": 5}})
    await api.pull(replica)
    deleted = await api.delete("tasks", "t1")
    assert deleted.status == 200 and deleted.body["deleted"] and deleted.body["data"] is None
    gone = await api.get("tasks", "t1")
    assert gone.status == 404 and gone.body["error"]["deleted"] is True
    assert (await api.delete("tasks", "t1")).status == 404
    await api.pull(replica)
    assert replica.records == {}
    recreated = await api.put("tasks", "t1", {"title": "b"}, if_none_match="*")
    assert recreated.status == 201 and recreated.body["version"] == 3
    assert recreated.body["data"] == {"title": "b", "balance": 0}  # nothing of the old record
    await api.pull(replica)
    assert replica.records[("tasks", "t1")]["data"] == {"title": "b", "balance": 0}


async def test_patch_merges_and_reports_resolved_conflicts(api: Api) -> None:
    await api.put("tasks", "t1", {"title": "a", "meta": {"x": 1}, "tags": ["p"]})
    await api.patch("tasks", "t1", {"title": "from device A", "count": {"$inc": 1}})
    # device B last saw version 1 and edits offline
    merged = await api.patch(
        "tasks",
        "t1",
        {"title": "from device B", "meta": {"y": 2}, "count": {"$inc": 2}, "tags": {"$add": ["q"]}},
        coedit_base_version="1",
    )
    assert merged.status == 200
    assert merged.body["data"] == {
        "title": "from device B",
        "meta": {"x": 1, "y": 2},
        "count": 3,
        "tags": ["p", "q"],
        "balance": 0,
    }
    assert {(c["field"], c["resolution"]) for c in merged.body["conflicts"]} == {
        ("title", "overwritten"),
        ("count", "merged"),
    }
    async with api.http.get(api.url("/metrics")) as response:
        assert "coedit_entities_conflicts_resolved_total 2.0" in await response.text()


async def test_list_pages_by_id(api: Api) -> None:
    for i in range(5):
        await api.put("tasks", f"t{i}", {"title": str(i)})
    await api.delete("tasks", "t2")
    seen: list[str] = []
    after = ""
    while True:
        page = await api.request(
            "GET", "/v1/collections/tasks/records", params={"limit": "2", "after": after}
        )
        assert page.status == 200
        seen.extend(r["id"] for r in page.body["records"])
        if not page.body["has_more"]:
            break
        after = page.body["next"]
    assert seen == ["t0", "t1", "t3", "t4"]


async def test_large_answers_are_gzipped_when_accepted(api: Api) -> None:
    for i in range(30):
        await api.put("tasks", f"t{i}", {"title": "x" * 100})
    url = api.url("/v1/changes")
    async with api.http.get(
        url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False
    ) as response:
        raw = await response.read()
        assert response.headers["Content-Encoding"] == "gzip"
    assert b'"next_cursor"' in gzip.decompress(raw)
    async with api.http.get(url, headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers


async def test_compression_is_transparent_to_a_normal_client(api: Api) -> None:
    assert (await api.put("tasks", "t1", {"title": "t", "meta": {"x": "x" * 2000}})).status == 201
    url = api.url("/v1/collections/tasks/records/t1")
    # a plain client session sends Accept-Encoding: gzip, deflate and decompresses by itself
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.content_length is not None and response.content_length < 500
        assert (await response.json())["data"]["meta"]["x"] == "x" * 2000
