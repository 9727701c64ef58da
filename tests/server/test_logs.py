"""Structured log lines: logfmt and JSON formatting, and one access line per request."""

from __future__ import annotations

import logging

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from server.observability.logs import REQUEST_ID, JsonFormatter, LogfmtFormatter


def record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.makeLogRecord({"name": "coedit.test", "levelname": "INFO", "msg": msg})
    rec.__dict__.update(extra)
    return rec


def test_logfmt_quotes_only_what_needs_it() -> None:
    token = REQUEST_ID.set("r-1")
    try:
        line = LogfmtFormatter().format(record('a "b"\nc', route="/v1/docs/{doc}", status=200))
    finally:
        REQUEST_ID.reset(token)
    assert "\n" not in line
    fields = line.split(" ", 1)[1]
    assert fields == (
        'level=info logger=coedit.test msg="a \\"b\\"\\nc" request_id=r-1 '
        "route=/v1/docs/{doc} status=200"
    )


def test_json_lines_carry_the_same_fields() -> None:
    line = JsonFormatter().format(record("evicted", documents=3))
    event = orjson.loads(line)
    assert event["msg"] == "evicted" and event["documents"] == 3 and event["level"] == "info"
    assert "request_id" not in event


async def test_one_access_line_per_request(
    server: TestServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="coedit.access")
    async with http.get(server.make_url("/v1/docs/x"), headers={"X-Request-Id": "req-9"}) as r:
        assert r.status == 404
    [line] = [r for r in caplog.records if r.name == "coedit.access"]
    fields = orjson.loads(JsonFormatter().format(line))
    assert fields["route"] == "/v1/docs/{doc}" and fields["status"] == 404
    assert fields["method"] == "GET" and fields["duration_ms"] >= 0
    assert fields["request_id"] == "req-9"
