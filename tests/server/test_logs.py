"""Structured log lines: logfmt and JSON formatting, and one access line per request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

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


class _AccessLines(logging.Handler):
    """Collects ``coedit.access`` lines and wakes waiters as they arrive."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[dict[str, object]] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(orjson.loads(JsonFormatter().format(record)))
        self.arrived.set()

    async def next_line(self) -> dict[str, object]:
        async with asyncio.timeout(5):
            while not self.lines:
                self.arrived.clear()
                await self.arrived.wait()
        return self.lines.pop(0)


@pytest.fixture
def access_lines() -> Iterator[_AccessLines]:
    logger = logging.getLogger("coedit.access")
    lines, level = _AccessLines(), logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(lines)
    logger.setLevel(level)


async def test_a_websocket_logs_its_line_when_it_closes(
    server: TestServer, http: aiohttp.ClientSession, access_lines: _AccessLines
) -> None:
    async with http.ws_connect(server.make_url("/v1/ws"), headers={"X-Request-Id": "ws-7"}) as ws:
        await ws.send_str('{"type": "hello", "protocol": 1, "client": "c1"}')
        assert "welcome" in (await ws.receive(timeout=5)).data
        assert access_lines.lines == []  # not while the connection is open
    fields = await access_lines.next_line()
    assert fields["route"] == "/v1/ws" and fields["status"] == 101 and fields["method"] == "GET"
    assert fields["request_id"] == "ws-7" and isinstance(fields["duration_ms"], float)


async def test_a_refused_upgrade_is_logged_with_its_status(
    server: TestServer, http: aiohttp.ClientSession, access_lines: _AccessLines
) -> None:
    async with http.get(server.make_url("/v1/ws"), headers={"X-Request-Id": "plain-1"}) as r:
        assert r.status == 400 and r.headers["X-Request-Id"] == "plain-1"
    fields = await access_lines.next_line()
    assert fields["route"] == "/v1/ws" and fields["status"] == 400
    assert fields["request_id"] == "plain-1"
