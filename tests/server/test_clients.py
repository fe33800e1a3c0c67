"""Real clients against the real server: the official openai SDK on /v1 (unchanged), and MLflow
3.17's own deployments client, run as a subprocess with MLflow's interpreter."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path

import openai
import pytest

from mlflow.testing.openai_server import OpenAIServer
from tests.conftest import Reply
from tests.server.helpers import openai_endpoint, running_gateway

KEY = "sk-test-key"
REPO = Path(__file__).resolve().parents[2]


def _config(api_base: str) -> dict:
    return {"endpoints": [
        openai_endpoint("chat", api_base=api_base, key=KEY),
        openai_endpoint("completions", "llm/v1/completions", api_base=api_base, key=KEY,
                        model="gpt-3.5-turbo-instruct"),
        openai_endpoint("embeddings", "llm/v1/embeddings", api_base=api_base, key=KEY,
                        model="text-embedding-3-small"),
    ]}


@pytest.fixture
async def gateway():
    async with OpenAIServer(api_key=KEY) as upstream, running_gateway(
        _config(upstream.api_base)
    ) as gw:
        yield gw


async def test_openai_sdk_unchanged(gateway):
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    try:
        chat = await client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hello sdk"}])
        assert chat.choices[0].message.role == "assistant" and chat.choices[0].message.content
        stream = await client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "stream me please"}],
            stream=True)
        pieces = [c.choices[0].delta.content async for c in stream if c.choices]
        assert len(pieces) > 1 and "".join(p or "" for p in pieces)
        completion = await client.completions.create(model="completions", prompt="one two")
        assert completion.choices[0].text
        embeddings = await client.embeddings.create(model="embeddings", input=["a", "b"])
        assert len(embeddings.data) == 2 and embeddings.data[0].embedding
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="no-such-endpoint", messages=[{"role": "user", "content": "x"}])
    finally:
        await client.close()


async def test_openai_sdk_rate_limit_error(recording_server):
    recording_server.default = Reply(status=429, headers={"Retry-After": "60"},
                                     json={"error": {"message": "slow down"}})
    async with running_gateway(_config(recording_server.url + "/v1")) as gw:
        client = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
        try:
            with pytest.raises(openai.RateLimitError) as info:
                await client.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": "x"}])
        finally:
            await client.close()
    assert info.value.response.headers["Retry-After"] == "60"


_PEER_SCRIPT = r"""
import json, sys
from mlflow.deployments import get_deploy_client
client = get_deploy_client(sys.argv[1])
endpoints = client.list_endpoints()
chat = client.get_endpoint("chat")
answer = client.predict(endpoint="chat",
                        inputs={"messages": [{"role": "user", "content": "hi from mlflow"}]})
embedded = client.predict(endpoint="embeddings", inputs={"input": ["a", "b"]})
try:  # MLflow 3.17's gateway client has no predict_stream (its base class raises)
    chunks = list(client.predict_stream(endpoint="chat", inputs={
        "messages": [{"role": "user", "content": "stream to mlflow"}]}))
    stream = [c["choices"][0]["delta"].get("content") for c in chunks if c.get("choices")]
except NotImplementedError:
    stream = "NotImplementedError"
print(json.dumps({
    "mlflow": __import__("mlflow").__version__,
    "names": [e.name for e in endpoints],
    "chat_type": chat.endpoint_type,
    "chat_provider": chat.model.provider,
    "answer": answer["choices"][0]["message"]["content"],
    "embeddings": len(embedded["data"]),
    "stream": stream,
}))
"""


def _peer_python() -> str | None:
    path = os.environ.get("MLFLOW_PEER_PYTHON") or str(REPO / ".venv-mlflow" / "bin" / "python")
    return path if Path(path).exists() else None


async def test_mlflow_317_deployments_client(gateway):
    python = _peer_python()
    if python is None:
        message = "no MLflow peer interpreter (set MLFLOW_PEER_PYTHON)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    with tempfile.TemporaryDirectory() as cwd:  # so the peer imports its own mlflow, not ours
        proc = await asyncio.create_subprocess_exec(
            python, "-c", _PEER_SCRIPT, gateway.url, cwd=cwd, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()[-2000:]
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["mlflow"].startswith("3.")
    assert result["names"] == ["chat", "completions", "embeddings"]
    assert (result["chat_type"], result["chat_provider"]) == ("llm/v1/chat", "openai")
    assert result["answer"] and result["embeddings"] == 2
    # Where MLflow's client streams, our stream must parse; where it does not, it says so.
    assert result["stream"] == "NotImplementedError" or len(result["stream"]) > 1
