"""The packaged fakes and the embedded gateway work from any directory: a script that imports only
``mlflow.testing`` and ``mlflow.gateway.server.embedded`` (as the README's examples do) runs from a
temporary directory with no PYTHONPATH, i.e. on the installed package alone; and the demo's
helper sends a provider with no base-URL field (Anthropic) to its packaged fake."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import aiohttp

from mlflow.testing import OpenAIServer
from mlflow.testing.fake_gateway import FakeUpstreamGateway, anthropic_endpoint, openai_endpoint
from mlflow.testing.providers.anthropic import AnthropicFake

_SCRIPT = r"""
import importlib.util, json, os, urllib.error, urllib.request

import mlflow
from mlflow.gateway.server.embedded import EmbeddedGateway, demo_config
from mlflow.testing import OpenAIServer


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


upstream = OpenAIServer(api_key="sk-any-dir")
with upstream.running():
    with EmbeddedGateway(demo_config(upstream.api_base, "sk-any-dir")).running() as url:
        chat = post(url + "/endpoints/chat/invocations",
                    {"messages": [{"role": "user", "content": "from anywhere"}]})
        v1 = post(url + "/v1/chat/completions",
                  {"model": "chat", "messages": [{"role": "user", "content": "via v1"}]})
        missing = post(url + "/v1/chat/completions",
                       {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
print(json.dumps({
    "cwd": os.getcwd(),
    "mlflow": mlflow.__file__,
    "benchmarks_importable": importlib.util.find_spec("benchmarks") is not None,
    "chat": chat, "v1": v1, "missing_status": missing[0],
    "upstream": [[r.path, r.header("authorization")] for r in upstream.requests],
}))
"""


def test_packaged_fakes_and_gateway_from_any_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["cwd"] == str(tmp_path)
    assert not got["mlflow"].startswith(str(tmp_path))
    assert got["benchmarks_importable"] is False  # nothing came from the repository's root
    status, chat = got["chat"]
    assert status == 200 and chat["choices"][0]["message"]["content"] == "Echo: from anywhere"
    status, v1 = got["v1"]
    assert status == 200 and v1["choices"][0]["message"]["content"] == "Echo: via v1"
    assert got["missing_status"] == 404
    assert got["upstream"] == [["/v1/chat/completions", "Bearer sk-any-dir"]] * 2


async def test_fake_upstream_gateway_sends_anthropic_to_its_fake():
    async with OpenAIServer(api_key="sk-o") as openai_fake, AnthropicFake(api_key="sk-a") as fake:
        config = {"endpoints": [
            openai_endpoint("chat", "llm/v1/chat", "gpt-4o-mini", openai_fake.api_base, "sk-o"),
            anthropic_endpoint("claude", "claude-sonnet-4-5", "sk-a", calls=5),
        ]}
        gateway = FakeUpstreamGateway(config, api_bases={"anthropic": fake.api_base})
        async with gateway as url, aiohttp.ClientSession() as session:
            body = {"messages": [{"role": "system", "content": "Short."},
                                 {"role": "user", "content": "hello"}]}
            async with session.post(url + "/endpoints/claude/invocations", json=body) as r:
                assert r.status == 200
                answer = await r.json()
            async with session.get(url + "/api/2.0/endpoints/claude") as r:
                endpoint = await r.json()
            async with session.post(url + "/endpoints/chat/invocations", json=body) as r:
                assert r.status == 200
    assert answer["provider"] == "anthropic"
    assert answer["choices"][0]["message"]["content"] == "Echo: hello"
    (sent,) = fake.requests
    assert sent.path == "/v1/messages" and sent.header("x-api-key") == "sk-a"
    assert sent.json()["system"] == "Short." and sent.json()["model"] == "claude-sonnet-4-5"
    assert endpoint["limit"] == {"calls": 5, "key": None, "renewal_period": "second"}
    # The other provider is untouched: it still goes where its config says.
    assert [r.header("authorization") for r in openai_fake.requests] == ["Bearer sk-o"]
