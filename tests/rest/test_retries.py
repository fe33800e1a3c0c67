"""Retries through http_request / ahttp_request against the loopback server: real (small)
Retry-After waits, exhaustion, argument validation and the total deadline."""

from __future__ import annotations

import asyncio
import math
import time
from email.utils import formatdate

import pytest
from conftest import Reply

from async_core import DeadlineExceeded, RetryAfterBeyondDeadline
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds

FAST = {"backoff_factor": 0, "backoff_jitter": 0}


def creds(server) -> MlflowHostCreds:
    return MlflowHostCreds(server.url)


def gaps(server) -> list[float]:
    times = [a.time for a in server.attempts]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


# --- Retry-After, for real -------------------------------------------------------------------
async def test_integer_retry_after_is_waited(call, server):
    server.script(Reply(503, headers={"Retry-After": "1"}), Reply(200, json={"done": 1}))
    response = await call(creds(server), "/ra", "GET", **FAST)
    assert response.status_code == 200 and response.json() == {"done": 1}
    assert len(server.attempts) == 2
    assert gaps(server)[0] >= 1.0


async def test_fractional_retry_after_on_429(call, server):
    server.script(Reply(429, headers={"Retry-After": "0.3"}), Reply(429, headers={
        "Retry-After": "0.2"}), Reply(200))
    response = await call(creds(server), "/ra", "POST", json={"n": 1}, **FAST)
    assert response.status_code == 200
    first, second = gaps(server)
    assert first >= 0.3 and second >= 0.2
    # Every attempt carries the same body.
    assert {a.body for a in server.attempts} == {b'{"n": 1}'}


async def test_http_date_retry_after(call, server):
    target: list[float] = []

    def handler(request, attempt):
        if not target:
            target.append(float(math.ceil(time.time() + 0.2)))
            return Reply(503, headers={"Retry-After": formatdate(target[0], usegmt=True)})
        target.append(time.time())
        return Reply(200)

    server.respond_with(handler)
    response = await call(creds(server), "/date", "GET", **FAST)
    assert response.status_code == 200
    assert target[1] >= target[0] - 0.01  # the retry waited until the date (1 ms clock slack)


async def test_413_with_retry_after_is_retried_though_not_a_retry_code(call, server):
    server.script(Reply(413, headers={"Retry-After": "0.1"}), Reply(200))
    response = await call(creds(server), "/big", "POST", data=b"x", **FAST)
    assert response.status_code == 200 and len(server.attempts) == 2
    assert gaps(server)[0] >= 0.1


async def test_respect_retry_after_header_false(call, server):
    # If the header were honoured, the 30 s would cross the 10 s deadline and fail at once.
    server.script(Reply(503, headers={"Retry-After": "30"}), Reply(200))
    response = await call(creds(server), "/no-ra", "GET", respect_retry_after_header=False,
                          retry_timeout_seconds=10, **FAST)
    assert response.status_code == 200 and len(server.attempts) == 2


async def test_respect_retry_after_env_false(call, server, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER", "False")
    server.script(Reply(429, headers={"Retry-After": "30"}), Reply(200))
    response = await call(creds(server), "/no-ra", "GET", retry_timeout_seconds=10, **FAST)
    assert response.status_code == 200 and len(server.attempts) == 2


# --- exhaustion ------------------------------------------------------------------------------
async def test_exhausted_with_raise_on_status_false_returns_the_last_response(call, server):
    server.default = Reply(503, body="still busy")
    response = await call(creds(server), "/busy", "GET", max_retries=2, raise_on_status=False,
                          **FAST)
    assert response.status_code == 503 and response.text == "still busy"
    assert len(server.attempts) == 3


async def test_exhausted_with_raise_on_status_raises_naming_the_status(call, server):
    server.default = Reply(502)
    with pytest.raises(MlflowException) as info:
        await call(creds(server), "/busy", "GET", max_retries=2, **FAST)
    message = str(info.value)
    assert f"API request to {server.url}/busy failed" in message
    assert "502" in message
    assert len(server.attempts) == 3


async def test_custom_retry_codes(call, server):
    server.script(Reply(418), Reply(200))
    response = await call(creds(server), "/tea", "GET", retry_codes=[418], **FAST)
    assert response.status_code == 200 and len(server.attempts) == 2
    server.script(Reply(503))
    response = await call(creds(server), "/tea", "GET", retry_codes=[418], **FAST)
    assert response.status_code == 503 and len(server.attempts) == 3  # 503 not retried now


async def test_non_retryable_status_is_returned_at_once(call, server):
    server.script(Reply(400, json={"error_code": "BAD_REQUEST", "message": "no"}))
    response = await call(creds(server), "/bad", "GET", max_retries=5, **FAST)
    assert response.status_code == 400 and len(server.attempts) == 1


async def test_env_defaults_drive_retries(call, server, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    server.default = Reply(500)
    response = await call(creds(server), "/env", "GET", raise_on_status=False)
    assert response.status_code == 500 and len(server.attempts) == 2


# --- validation ------------------------------------------------------------------------------
VALIDATION = [
    ({"max_retries": -1}, {}, "The max_retries value must be either 0 a positive integer. Got -1"),
    ({"max_retries": 10}, {}, "The configured max_retries value (10) is in excess of the maximum "
     "allowable retries (10)"),
    ({"max_retries": 4}, {"_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT": "3"},
     "The configured max_retries value (4) is in excess of the maximum allowable retries (3)"),
    ({}, {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "11"},
     "The configured max_retries value (11) is in excess of the maximum allowable retries (10)"),
    ({"max_retries": 1}, {"_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT": "-1"},
     "The current maximum retry limit is invalid (-1). Cannot be negative."),
    ({"backoff_factor": -1}, {},
     "The backoff_factor value must be either 0 a positive integer. Got -1"),
    ({"backoff_factor": 120}, {}, "The configured backoff_factor value (120) is in excess of the "
     "maximum allowable backoff_factor limit (120)"),
    ({"backoff_factor": 5}, {"_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT": "5"},
     "The configured backoff_factor value (5) is in excess of the maximum allowable "
     "backoff_factor limit (5)"),
    ({}, {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "200"},
     "The configured backoff_factor value (200) is in excess"),
    ({"backoff_factor": 1}, {"_MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT": "-2"},
     "The current maximum backoff factor limit is invalid (-2). Cannot be negative."),
]


@pytest.mark.parametrize(("kwargs", "env", "message"), VALIDATION)
async def test_invalid_retry_settings(call, server, monkeypatch, kwargs, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(MlflowException) as info:
        await call(creds(server), "/v", "GET", **kwargs)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    assert message in str(info.value)
    assert server.attempts == []


async def test_settings_just_inside_the_limits_are_accepted(call, server):
    response = await call(creds(server), "/v", "GET", max_retries=9, backoff_factor=119)
    assert response.status_code == 200
    response = await call(creds(server), "/v", "GET", max_retries=0, backoff_factor=0)
    assert response.status_code == 200


@pytest.mark.parametrize("name", ["MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                                  "MLFLOW_HTTP_REQUEST_TIMEOUT"])
async def test_garbage_integer_env_is_a_clear_error(call, server, monkeypatch, name):
    monkeypatch.setenv(name, "lots")
    with pytest.raises(MlflowException) as info:
        await call(creds(server), "/v", "GET")
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    assert name in str(info.value) and "lots" in str(info.value)
    assert server.attempts == []


# --- the total deadline ----------------------------------------------------------------------
async def test_retry_after_beyond_the_deadline_fails_at_once(call, server):
    server.default = Reply(503, headers={"Retry-After": "30"})
    started = time.monotonic()
    with pytest.raises(MlflowException) as info:
        await call(creds(server), "/slow", "GET", retry_timeout_seconds=2, **FAST)
    assert time.monotonic() - started < 30  # it did not sleep the 30 s
    message = str(info.value)
    assert f"{server.url}/slow" in message
    assert "30" in message  # how long the server asked to wait
    assert isinstance(info.value.__cause__, RetryAfterBeyondDeadline)
    assert len(server.attempts) == 1


async def test_backoff_beyond_the_deadline_returns_the_last_response(call, server):
    server.default = Reply(503)
    # Waits 0, 0.2, 0.4, 0.8, ... : attempts at ~0, 0, 0.2, 0.6 s; the next would start at 1.4 s.
    response = await call(creds(server), "/d", "GET", max_retries=8, backoff_factor=0.1,
                          backoff_jitter=0, retry_timeout_seconds=1, raise_on_status=False)
    assert response.status_code == 503
    assert 1 <= len(server.attempts) <= 4


async def test_backoff_beyond_the_deadline_raises_with_raise_on_status(call, server):
    server.default = Reply(500)
    with pytest.raises(MlflowException, match="500"):
        await call(creds(server), "/d", "GET", max_retries=8, backoff_factor=0.1,
                   backoff_jitter=0, retry_timeout_seconds=1)
    assert 1 <= len(server.attempts) <= 4


async def test_deadline_cuts_a_slow_attempt(call, server):
    server.default = Reply(200, delay=20)
    with pytest.raises(MlflowException) as info:
        await call(creds(server), "/hang", "GET", timeout=60, retry_timeout_seconds=0.5, **FAST)
    chain = []
    error: BaseException | None = info.value
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, DeadlineExceeded) for e in chain)
    assert len(server.attempts) == 1
    # The abandoned attempt's connection was closed. (Waited for off the loop: in the async
    # variant the close itself needs this loop to run.)
    assert await asyncio.to_thread(server.cancelled.wait, 10)
