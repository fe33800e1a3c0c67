"""Failing loudly and safely: one WARNING per retry, and one Idempotency-Key across the attempts
of a request so a server can deduplicate a retried POST."""

from __future__ import annotations

import logging
import re
import socket

import pytest
from conftest import Reply

from mlflow.exceptions import MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds

FAST = {"backoff_factor": 0, "backoff_jitter": 0}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_one_warning_per_retry_naming_attempt_wait_and_cause(call, caplog):
    caplog.set_level(logging.WARNING, logger="mlflow.utils.rest_utils")
    url = f"http://bob:pa55word-xyz@127.0.0.1:{closed_port()}"
    with pytest.raises(MlflowException):
        await call(MlflowHostCreds(url, token="tok-secret-123"), "/x", "POST", json={},
                   max_retries=3, backoff_factor=0.001, backoff_jitter=0)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 3
    pattern = (r"Retrying \((\d)/3\) in (\d+\.\d) s after connection refused: "
               r"POST http://127\.0\.0\.1:\d+/x")
    assert [re.fullmatch(pattern, line).group(1) for line in lines] == ["1", "2", "3"]
    assert all("pa55word" not in line and "tok-secret" not in line for line in lines)


async def test_a_retried_status_is_named(call, server, caplog):
    caplog.set_level(logging.WARNING, logger="mlflow.utils.rest_utils")
    server.script(Reply(503), Reply(200))
    assert (await call(MlflowHostCreds(server.url), "/y", "GET", **FAST)).status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if "Retrying" in r.getMessage()]
    assert line == f"Retrying (1/7) in 0.0 s after status 503: GET {server.url}/y"


async def test_one_idempotency_key_across_the_attempts_of_a_post(call, server):
    server.script(Reply(503), Reply(502), Reply(200), Reply(200))
    creds = MlflowHostCreds(server.url)
    await call(creds, "/p", "POST", json={"a": 1}, **FAST)
    await call(creds, "/p", "POST", json={"a": 1}, **FAST)
    keys = [a.headers.get("Idempotency-Key") for a in server.attempts]
    assert len(keys) == 4 and all(keys)
    assert keys[0] == keys[1] == keys[2]  # one request, three attempts
    assert keys[3] != keys[0]  # another request
    assert re.fullmatch(r"[0-9a-f]{32}", keys[0])


@pytest.mark.parametrize(("option", "expected"), [(False, None), ("my-key-1", "my-key-1")])
async def test_the_key_can_be_turned_off_or_chosen(call, server, option, expected):
    await call(MlflowHostCreds(server.url), "/p", "POST", json={}, idempotency_key=option)
    assert server.attempts[0].headers.get("Idempotency-Key") == expected


async def test_no_key_on_idempotent_methods_and_the_callers_own_key_wins(call, server):
    creds = MlflowHostCreds(server.url)
    await call(creds, "/g", "GET")
    await call(creds, "/p", "PATCH", json={}, extra_headers={"idempotency-key": "theirs"})
    assert "Idempotency-Key" not in server.attempts[0].headers
    assert server.attempts[1].headers.getall("Idempotency-Key") == ["theirs"]
