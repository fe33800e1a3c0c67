"""The mapping of engine errors and upstream error bodies onto the gateway's answers."""

from __future__ import annotations

import pytest

from async_core.errors import (
    ConnectError,
    DeadlineExceeded,
    InvalidURL,
    ReadError,
    RetryAfterBeyondDeadline,
    TransportTimeout,
)
from mlflow.gateway.providers._errors import (
    map_transport_error,
    scrub,
    upstream_error,
    upstream_message,
)

URL = "https://api.example.com:8443/v1/models/m:generate?key=SECRETKEY123"


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (ConnectError(reason="connection refused"), 502, "Could not connect"),
        (TransportTimeout(reason="read timeout"), 504, "timed out"),
        (ReadError(reason="connection reset"), 502, "(connection reset)"),
        (DeadlineExceeded("x", attempts=3), 504, "after 3 attempt(s)"),
        (InvalidURL("bad"), 500, "not valid"),
    ],
)
def test_engine_errors(error, status, words):
    mapped = map_transport_error("Acme", URL, error)
    assert mapped.status_code == status and words in mapped.detail
    assert "SECRETKEY123" not in mapped.detail and "/v1/models" not in mapped.detail
    assert "https://api.example.com:8443" in mapped.detail or status == 500


@pytest.mark.parametrize(("upstream", "answered"), [(429, 429), (503, 503), (500, 429)])
def test_retry_after_beyond_budget(upstream, answered):
    error = RetryAfterBeyondDeadline("x", retry_after=2.2, status=upstream, attempts=1)
    mapped = map_transport_error("Acme", URL, error)
    assert mapped.status_code == answered and mapped.headers == {"Retry-After": "3"}


def test_other_exceptions_are_not_mapped():
    assert map_transport_error("Acme", URL, ValueError("x")) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"message": "m1", "type": "t"}}', "m1"),
        (b'{"message": "m2"}', "m2"),
        (b'{"Message": "m3"}', "m3"),
        (b'{"detail": "m4"}', "m4"),
        (b'{"error": "m5", "error_type": "validation"}', "m5"),
        (b'[{"error": {"code": 400, "message": "m6"}}]', "m6"),
        (b"plain text", "plain text"),
        (b"", ""),
    ],
)
def test_upstream_message_shapes(body, message):
    assert upstream_message(body, None) == message


def test_upstream_error_scrubs_every_secret_and_keeps_retry_after():
    body = b'{"error": {"message": "bad key Bearer sk-abcdef123 and aws secret wJalrXUt/K7"}}'
    error = upstream_error("Acme", 429, body, {"Retry-After": "1.5"},
                           ["sk-abcdef123", "wJalrXUt/K7"], 0.0)
    assert error.status_code == 429 and error.headers == {"Retry-After": "2"}
    assert error.detail == "bad key Bearer [REDACTED] and aws secret [REDACTED]"
    empty = upstream_error("Acme", 500, b"", {}, [], 0.0)
    assert empty.detail == "The Acme API answered HTTP 500 with no message."
    assert upstream_error("Acme", 400, b"x" * 5000, {}, [], 0.0).detail.endswith("...")


def test_short_values_are_not_scrubbed():
    assert scrub("the key abc", ["abc"]) == "the key abc"
