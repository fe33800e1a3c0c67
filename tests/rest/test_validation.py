"""Every numeric and typed parameter of http_request is checked before anything is sent, the same
on the HTTP path and the Databricks-SDK path."""

from __future__ import annotations

import logging
import math

import pytest
from conftest import Reply

from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds

NAN, INF = math.nan, math.inf

# (keyword arguments, the parameter the message must name)
REFUSED = [
    ({"max_retries": 2.5}, "max_retries"),
    ({"max_retries": NAN}, "max_retries"),
    ({"max_retries": "3"}, "max_retries"),
    ({"backoff_factor": NAN}, "backoff_factor"),
    ({"backoff_factor": "1"}, "backoff_factor"),
    ({"backoff_factor": INF}, "backoff_factor"),
    ({"backoff_jitter": INF}, "backoff_jitter"),
    ({"backoff_jitter": -1}, "backoff_jitter"),
    ({"backoff_jitter": NAN}, "backoff_jitter"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": -1}, "timeout"),
    ({"timeout": True}, "timeout"),
    ({"timeout": NAN}, "timeout"),
    ({"timeout": INF}, "timeout"),
    ({"timeout": "10"}, "timeout"),
    ({"retry_timeout_seconds": NAN}, "retry_timeout_seconds"),
    ({"retry_timeout_seconds": -1}, "retry_timeout_seconds"),
    ({"retry_timeout_seconds": 0}, "retry_timeout_seconds"),
    ({"retry_timeout_seconds": True}, "retry_timeout_seconds"),
    ({"retry_codes": 503}, "retry_codes"),
    ({"retry_codes": ["abc"]}, "retry_codes"),
    ({"retry_codes": [99]}, "retry_codes"),
    ({"retry_codes": "503"}, "retry_codes"),
    ({"respect_retry_after_header": "no"}, "respect_retry_after_header"),
    ({"json": {"x": NAN}}, "json"),
    ({"json": {"x": object()}}, "json"),
    ({"extra_headers": [("A", "b")]}, "extra_headers"),
    ({"extra_headers": {"X-Injected:evil": "1"}}, "extra_headers"),
    ({"extra_headers": {"": "1"}}, "extra_headers"),
    ({"extra_headers": {"A B": "1"}}, "extra_headers"),
    ({"extra_headers": {"X-Ok": "a\r\nInjected: 1"}}, "extra_headers"),
    ({"extra_headers": {"X-Ok": 5}}, "extra_headers"),
    ({"headers": {"Bad\nName": "1"}}, "headers"),
    ({"data": 123}, "data"),
    ({"data": 1.5}, "data"),
    ({"idempotency_key": 5}, "idempotency_key"),
]


@pytest.mark.parametrize(("kwargs", "name"), REFUSED, ids=lambda v: repr(v)[:40])
async def test_bad_values_are_refused_before_anything_is_sent(call, server, kwargs, name):
    with pytest.raises(MlflowException) as info:
        await call(MlflowHostCreds(server.url), "/v", "POST", **kwargs)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    message = str(info.value)
    assert f"`{name}" in message and "Accepted" in message, message
    assert server.attempts == []
    assert info.value.__cause__ is None or not isinstance(info.value.__cause__, TypeError)


@pytest.mark.parametrize("kwargs", [
    {"max_retries": 2.5}, {"backoff_factor": NAN}, {"backoff_jitter": INF}, {"timeout": -1},
    {"retry_codes": 503}, {"retry_timeout_seconds": NAN},
], ids=lambda v: repr(v))
async def test_the_sdk_path_runs_the_same_validation(call, server, kwargs):
    creds = MlflowHostCreds(server.url, token="dapi-x", use_databricks_sdk=True)
    with pytest.raises(MlflowException) as info:
        await call(creds, "/api/2.0/v", "GET", **kwargs)
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    assert server.attempts == []


@pytest.mark.parametrize(("option", "value"), [("verify", "/no/such/ca.pem"),
                                               ("cert", "/no/such/client.pem"),
                                               ("cert", ("/no/such/c.pem", "/no/such/k.pem"))])
async def test_missing_tls_files_are_named(call, server, option, value):
    url = server.url.replace("http://", "https://")
    with pytest.raises(MlflowException) as info:
        await call(MlflowHostCreds(url), "/v", "GET", **{option: value})
    assert info.value.error_code == INVALID_PARAMETER_VALUE
    assert "/no/such/" in str(info.value) and f"`{option}`" in str(info.value)
    assert server.attempts == []


async def test_mlflow_accepted_oddities_work_with_a_warning(call, server, caplog):
    server.script(Reply(503), Reply(200))
    caplog.set_level(logging.WARNING, logger="mlflow.utils.rest_utils")
    response = await call(MlflowHostCreds(server.url), "/v", "GET", max_retries=True,
                          retry_codes=["503"], backoff_factor=0, backoff_jitter=0)
    assert response.status_code == 200 and len(server.attempts) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("max_retries=True" in m for m in messages)
    assert any("retry_codes" in m and "'503'" in m for m in messages)


async def test_a_header_value_is_never_echoed_in_the_refusal(call, server):
    with pytest.raises(MlflowException) as info:
        await call(MlflowHostCreds(server.url), "/v", "GET",
                   extra_headers={"Authorization": "Bearer s3cret\r\nX: y"})
    assert "s3cret" not in str(info.value)
