"""One access-log line per request, request ids echoed, nothing secret logged."""

from __future__ import annotations

import logging
import re

import pytest

from mlflow.gateway.server.options import ServerOptions

from .conftest import CALLER_KEY, fetch, serve

CHAT = {"messages": [{"role": "user", "content": "a body that must never be logged"}]}
LINE = re.compile(
    r"request_id=(?P<id>\S+) method=(?P<method>\S+) path=(?P<path>\S+) "
    r"endpoint=(?P<endpoint>\S+) status=(?P<status>\d+) duration_ms=(?P<ms>[0-9.]+) "
    r"attempts=(?P<attempts>\d+)"
)


def access_lines(caplog) -> list[dict]:
    return [
        LINE.fullmatch(rec.getMessage()).groupdict()
        for rec in caplog.records
        if rec.name == "mlflow.gateway.access"
    ]


@pytest.fixture
def access_caplog(caplog):
    caplog.set_level(logging.INFO, logger="mlflow.gateway.access")
    return caplog


async def test_one_line_per_request_with_every_field(access_caplog):
    async with serve() as s:
        r = await fetch(
            s, "POST", "/endpoints/chat/invocations?api_key=" + CALLER_KEY, json=CHAT,
            headers={"X-Request-Id": "req-42.a:b_c"},
        )
        stream = await fetch(s, "POST", "/v1/chat/completions", json={**CHAT, "model": "m"})
        missing = await fetch(s, "GET", "/nope")
        boom = await fetch(s, "GET", "/boom")
    lines = access_lines(access_caplog)
    assert len(lines) == 4
    first, second, third, fourth = lines
    assert first == {
        "id": "req-42.a:b_c", "method": "POST", "path": "/endpoints/chat/invocations",
        "endpoint": "chat", "status": "200", "ms": first["ms"], "attempts": "2",
    }
    assert float(first["ms"]) >= 0
    assert r.headers["X-Request-Id"] == "req-42.a:b_c"
    assert (second["endpoint"], second["status"], second["attempts"]) == ("m", "200", "1")
    assert stream.headers["X-Request-Id"] == second["id"]  # echoed on a stream too
    assert re.fullmatch(r"[0-9a-f]{32}", second["id"])
    assert (third["endpoint"], third["status"]) == ("-", "404")
    assert missing.headers["X-Request-Id"] == third["id"]
    assert fourth["status"] == "500" and boom.headers["X-Request-Id"] == fourth["id"]
    text = "\n".join(rec.getMessage() for rec in access_caplog.records)
    assert CALLER_KEY not in text and "api_key" not in text
    assert "must never be logged" not in text


@pytest.mark.parametrize(
    "given", ["x" * 129, "has space", "new\\nline", "<script>", "", "id;rm -rf"]
)
async def test_insane_request_ids_are_replaced(given, access_caplog):
    async with serve() as s:
        r = await fetch(s, "GET", "/health", headers={"X-Request-Id": given})
    echoed = r.headers["X-Request-Id"]
    assert echoed != given and re.fullmatch(r"[0-9a-f]{32}", echoed)
    assert access_lines(access_caplog)[0]["id"] == echoed


async def test_refusals_are_logged_and_paths_are_escaped(access_caplog):
    async with serve() as s:
        await fetch(s, "POST", "/v1/chat/completions", json=CHAT,
                    headers={"Origin": "https://evil.example"})
        await fetch(s, "GET", "/a%0Ab%20c", headers={"Host": "evil.com"})
    lines = access_lines(access_caplog)
    assert [line["status"] for line in lines] == ["403", "403"]
    assert lines[1]["path"] == "/a%0Ab%20c"  # percent-encoded: no forged log lines


async def test_access_log_can_be_turned_off_but_ids_are_still_echoed(access_caplog):
    async with serve(ServerOptions(access_log=False)) as s:
        r = await fetch(s, "GET", "/health", headers={"X-Request-Id": "keep-me"})
    assert r.headers["X-Request-Id"] == "keep-me"
    assert access_lines(access_caplog) == []
