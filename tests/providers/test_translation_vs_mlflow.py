"""Our response translations against MLflow 3.17's adapters on the same upstream answers (MLflow
run in its own venv): the JSON a caller receives is the same, field for field (time-dependent
``created`` and generated ids aside)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from async_core import AsyncClient
from mlflow.gateway.providers import build_provider
from mlflow.gateway.providers import openai_format as fmt
from tests.providers.conftest import endpoint

MLFLOW_PYTHON = Path("/work/mlflow-venv/bin/python")
pytestmark = pytest.mark.skipif(not MLFLOW_PYTHON.exists(), reason="MLflow's venv is absent")

OPENAI_CHAT = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 7, "model": "gpt-4o",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
         "finish_reason": "tool_calls"},
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7,
              "prompt_tokens_details": {"cached_tokens": 1},
              "completion_tokens_details": {"reasoning_tokens": 0}},
}
OPENAI_CHUNK = {
    "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 7, "model": "gpt-4o",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "h", "tool_calls": [
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f",
                                                                  "arguments": ""}}]},
                 "finish_reason": None}],
    "usage": None,
}
OPENAI_EMBEDDINGS = {"object": "list", "model": "e", "usage": {"prompt_tokens": 2,
                                                               "total_tokens": 2},
                     "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 1.0]}]}
ANTHROPIC = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
    "content": [{"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "tu1", "name": "f", "input": {"a": 1}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 6, "cache_read_input_tokens": 2,
              "cache_creation_input_tokens": 1, "service_tier": "standard"},
}

_SCRIPT = """
import json, sys
import mlflow
from mlflow.gateway.config import EndpointConfig
from mlflow.gateway.providers.openai import OpenAIAdapter
from mlflow.gateway.providers.anthropic import AnthropicAdapter
cases = json.load(sys.stdin)
def cfg(provider, config):
    return EndpointConfig(name="ep", endpoint_type="llm/v1/chat",
                          model={"provider": provider, "name": "m", "config": config})
oa = cfg("openai", {"openai_api_key": "k"})
an = cfg("anthropic", {"anthropic_api_key": "k"})
out = {
    "chat": OpenAIAdapter.model_to_chat(cases["openai_chat"], oa).model_dump(mode="json"),
    "chunk": OpenAIAdapter.model_to_chat_streaming(cases["openai_chunk"], oa).model_dump(
        mode="json"),
    "embeddings": OpenAIAdapter.model_to_embeddings(cases["openai_embeddings"], oa).model_dump(
        mode="json"),
    "anthropic": AnthropicAdapter.model_to_chat(cases["anthropic"], an).model_dump(mode="json"),
    "from": mlflow.__file__,
}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def mlflow_out():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", _SCRIPT],
        input=json.dumps({"openai_chat": OPENAI_CHAT, "openai_chunk": OPENAI_CHUNK,
                          "openai_embeddings": OPENAI_EMBEDDINGS, "anthropic": ANTHROPIC}),
        capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir(), env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["from"].startswith(str(MLFLOW_PYTHON.parents[1]))
    return out


def _without_provider(answer):
    # MLflow's BaseProvider sets "provider" after the adapter runs; the adapter leaves it null.
    return {**answer, "provider": None}


def test_openai_chat(mlflow_out):
    assert _without_provider(fmt.to_chat(OPENAI_CHAT, "openai")) == mlflow_out["chat"]


def test_openai_chunk(mlflow_out):
    assert _without_provider(fmt.to_chat_chunk(OPENAI_CHUNK, "openai")) == mlflow_out["chunk"]


def test_openai_embeddings(mlflow_out):
    assert fmt.to_embeddings(OPENAI_EMBEDDINGS) == mlflow_out["embeddings"]


def test_anthropic_chat(mlflow_out):
    provider = build_provider(endpoint("anthropic", {"anthropic_api_key": "k"}), AsyncClient())
    ours = _without_provider(provider._to_chat(ANTHROPIC))
    theirs = mlflow_out["anthropic"]
    assert abs(ours.pop("created") - theirs.pop("created")) < 60
    assert ours == theirs
