"""The fakes ship in the package: importable from any directory, usable from blocking code on a
thread of their own (``running()``) as well as inside a loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mlflow.testing.providers.anthropic import AnthropicFake
from mlflow.testing.providers.gemini import GeminiFake

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import json, urllib.request
from mlflow.testing import GatewayServer, OpenAIServer
from mlflow.testing.providers.cohere import CohereFake
with CohereFake(api_key="k").running() as url:
    request = urllib.request.Request(url + "/v2/chat", method="POST", headers={
        "Authorization": "Bearer k", "Content-Type": "application/json"},
        data=json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode())
    print(json.load(urllib.request.urlopen(request, timeout=10))["message"]["content"][0]["text"])
with GatewayServer().running() as url:
    print(json.load(urllib.request.urlopen(url + "/health", timeout=10))["status"])
"""


def test_importable_and_runnable_from_another_directory(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Echo:", "hi", "OK"]


def _post(url, body, headers):
    request = urllib.request.Request(url, method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_running_thread_records_and_injects():
    fake = AnthropicFake(api_key="k")
    with fake.running() as url:
        fake.inject(429, {"type": "error", "error": {"type": "rate_limit_error",
                                                    "message": "slow"}},
                    headers={"retry-after": "7"})
        body = {"model": "c", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
        headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
        status, got_headers, raw = _post(url + "/v1/messages", body, headers)
        assert status == 429 and got_headers["retry-after"] == "7"
        assert json.loads(raw)["error"]["type"] == "rate_limit_error"
        status, _, raw = _post(url + "/v1/messages", body, headers)
        assert status == 200 and json.loads(raw)["content"][0]["text"] == "Echo: x"
        status, _, raw = _post(url + "/v1/messages", body, {**headers, "x-api-key": "bad"})
        assert status == 401 and json.loads(raw)["error"]["type"] == "authentication_error"
    assert [r.header("x-api-key") for r in fake.requests] == ["k", "k", "bad"]
    assert fake.requests[0].json() == body


async def test_stream_breaks_before_the_first_event():
    import aiohttp

    async with GeminiFake(api_key=None) as fake, aiohttp.ClientSession() as session:
        fake.inject(break_stream_after=0)
        url = fake.api_base + "/models/g:streamGenerateContent?alt=sse"
        body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
        async with session.post(url, json=body) as response:
            assert response.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
