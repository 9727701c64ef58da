"""REST: bearer tokens, uniform refusals, roles on the docs API, client ids, rate limits."""

from __future__ import annotations

from dataclasses import replace

from server.auth.settings import AbuseLimits
from tests.server.auth.conftest import AUTH, Rest
from tests.server.auth.tokens import mint, unsigned


async def test_requests_without_a_valid_bearer_token_are_401(rest: Rest) -> None:
    missing = await rest("GET", "/v1/docs/notes")
    assert missing.status == 401 and missing.body["error"]["code"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="coedit"'
    for token, code in [(unsigned("alice"), "unauthorized"), (mint(ttl=-1), "token_expired")]:
        reply = await rest("GET", "/v1/docs/notes", token=token)
        assert reply.status == 401 and reply.body["error"]["code"] == code
        assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"]


async def test_posts_with_bad_tokens_write_nothing(rest: Rest) -> None:
    await rest.submit("alice", "notes", ["ok"], seq=1, version=0)
    forged = mint("alice", key="a-forged-secret-that-is-long-enough-0123")
    bad = [forged, unsigned("alice"), mint("alice", ttl=-1), mint("alice", aud="billing")]
    for seq, token in enumerate(bad, start=2):
        body = {"client": "alice-rest", "seq": seq, "version": 1, "op": [2, "!"]}
        reply = await rest("POST", "/v1/docs/notes/ops", token=token, json=body)
        assert reply.status == 401
    assert await rest.text("alice", "notes") == (1, "ok")


async def test_no_role_and_no_document_get_the_same_answer(rest: Rest) -> None:
    assert (await rest.submit("alice", "diary", ["dear diary"], seq=1, version=0)).status == 200
    for path in ("/v1/docs/{}", "/v1/docs/{}/ops", "/v1/docs/{}/acl"):
        existing = await rest("GET", path.format("diary"), "bob")
        missing = await rest("GET", path.format("nothing-here"), "bob")
        assert existing.status == missing.status == 403
        assert existing.body["error"]["code"] == missing.body["error"]["code"] == "forbidden"
        assert existing.body["error"]["message"].replace("diary", "X") == missing.body["error"][
            "message"
        ].replace("nothing-here", "X")


async def test_a_token_for_alice_on_her_document_does_not_open_it_for_bob(rest: Rest) -> None:
    await rest.submit("alice", "plan", ["alice's plan"], seq=1, version=0)
    refused = await rest.submit("bob", "plan", [12, " (bob)"], seq=1, version=1)
    assert refused.status == 403
    assert await rest.text("alice", "plan") == (1, "alice's plan")
    ops = await rest("GET", "/v1/docs/plan/ops", "alice")
    assert [op["user"] for op in ops.body["ops"]] == ["alice"]


async def test_a_viewer_reads_over_rest_but_may_not_post(rest: Rest) -> None:
    await rest.submit("alice", "menu", ["soup"], seq=1, version=0)
    await rest.share("alice", "menu", bob="viewer")
    assert await rest.text("bob", "menu") == (1, "soup")
    refused = await rest.submit("bob", "menu", [4, "!"], seq=1, version=1)
    assert refused.status == 403 and "viewer" in refused.body["error"]["message"]
    assert await rest.text("alice", "menu") == (1, "soup")


async def test_another_users_client_id_is_refused_over_rest(rest: Rest) -> None:
    await rest.submit("alice", "log", ["a"], seq=1, version=0, client="kiosk")
    await rest.share("alice", "log", bob="editor")
    replay = await rest.submit("bob", "log", ["a"], seq=1, version=0, client="kiosk")
    assert replay.status == 403 and "another user" in replay.body["error"]["message"]
    assert await rest.text("alice", "log") == (1, "a")


async def test_ops_over_the_rate_get_429_with_retry_after(start_server, http) -> None:
    limits = AbuseLimits(ops_per_second=0.5, op_burst=2)
    server = await start_server(auth=replace(AUTH, limits=limits))
    rest = Rest(http, server)
    for seq in (1, 2):
        assert (await rest.submit("alice", "fast", ["x"], seq=seq, version=seq - 1)).status == 200
    limited = await rest.submit("alice", "fast", ["x"], seq=3, version=2)
    assert limited.status == 429 and limited.body["error"]["code"] == "rate_limited"
    assert limited.body["error"]["retry_after"] > 0
    assert int(limited.headers["Retry-After"]) >= 1
    assert await rest.text("alice", "fast") == (2, "xx")
