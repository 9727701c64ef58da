"""The opening handshake without sockets: parsing a head, refusals, the accept value."""

from __future__ import annotations

from server.web.handshake import (
    accept_value,
    head_refusal,
    parse_head,
    refusal,
    switching_protocols,
    wants_websocket,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example


def test_the_accept_value_is_the_rfc_example() -> None:
    assert accept_value(KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    reply = switching_protocols(KEY, "req-1").decode()
    assert reply.startswith("HTTP/1.1 101 Switching Protocols\r\n") and reply.endswith("\r\n\r\n")
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in reply
    assert "X-Request-Id: req-1\r\n" in reply


def test_a_head_parses_to_its_request_line_and_lower_case_headers() -> None:
    head = parse_head(
        b"GET /v1/ws?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n"
        b"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " + KEY.encode() + b"\r\n"
        b"Sec-WebSocket-Version: 13"
    )
    assert head is not None and head.method == "GET" and head.path == "/v1/ws"
    assert head.headers["upgrade"] == "WebSocket" and wants_websocket(head)
    assert head_refusal(head) is None


def test_odd_heads_are_left_to_aiohttp() -> None:
    for raw in (
        b"GET /v1/ws HTTP/1.0",  # not HTTP/1.1
        b"GET  /v1/ws HTTP/1.1",  # not three parts
        b"GET /v1/ws HTTP/1.1\r\nNo colon here",
        b"GET /v1/ws HTTP/1.1\r\nA: 1\r\na: 2",  # a repeated header
        b"GET /v1/ws HTTP/1.1\r\n Folded: x",
        "GET /v1/ws HTTP/1.1\r\nX: é".encode(),
    ):
        assert parse_head(raw) is None, raw


def test_refusals_name_what_is_wrong() -> None:
    assert refusal("websocket", "Upgrade", "13", KEY) is None
    no_upgrade = refusal("", "Upgrade", "13", KEY)
    assert no_upgrade is not None and no_upgrade.status == 400
    no_connection = refusal("websocket", "keep-alive", "13", KEY)
    assert no_connection is not None and no_connection.status == 400
    old = refusal("websocket", "Upgrade", "8", KEY)
    assert old is not None and old.status == 426
    assert old.headers == (("Sec-WebSocket-Version", "13"),)
    for key in ("", "not base64!", "c2hvcnQ="):
        bad_key = refusal("websocket", "Upgrade", "13", key)
        assert bad_key is not None and bad_key.status == 400 and "Key" in bad_key.text
