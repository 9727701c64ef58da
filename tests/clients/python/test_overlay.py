"""The optimistic view of a record under pending writes."""

from __future__ import annotations

from clients.python.overlay import apply_write, merge_patch


def test_put_replaces_and_delete_removes() -> None:
    assert apply_write({"a": 1}, "put", {"b": 2}) == {"b": 2}
    assert apply_write({"a": 1}, "delete", None) is None
    assert apply_write(None, "put", {"n": {"$inc": 3}}) == {"n": 3}


def test_patch_merges_like_rfc_7396() -> None:
    data = {"title": "x", "meta": {"a": 1, "b": 2}, "gone": True}
    patch = {"meta": {"b": None, "c": 3}, "gone": None, "list": [1]}
    assert apply_write(data, "patch", patch) == {
        "title": "x",
        "meta": {"a": 1, "c": 3},
        "list": [1],
    }
    assert merge_patch("scalar", {"a": {"b": None}}) == {"a": {}}
    assert data == {"title": "x", "meta": {"a": 1, "b": 2}, "gone": True}  # not mutated


def test_operators_count_and_merge_sets() -> None:
    data = {"count": 2, "tags": ["a", "b"]}
    patched = apply_write(
        data, "patch", {"count": {"$inc": 5}, "tags": {"$remove": ["a"], "$add": ["c", "b"]}}
    )
    assert patched == {"count": 7, "tags": ["b", "c"]}
    assert apply_write(None, "patch", {"count": {"$inc": 1}, "tags": {"$add": ["x"]}}) == {
        "count": 1,
        "tags": ["x"],
    }
