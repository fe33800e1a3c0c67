"""Ours against MLflow 3.17 itself (run in its own venv as one subprocess, without our
PYTHONPATH so it imports MLflow's package):

- the same requests are accepted or refused by the schemas, and the same responses serialize to
  the same JSON;
- our response translations give, on the same upstream answers, the JSON MLflow's adapters give
  (time-dependent ``created`` aside)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from async_core import AsyncClient
from mlflow.gateway.providers import build_provider
from mlflow.gateway.providers import openai_format as fmt
from mlflow.gateway.schemas import RESPONSE_MODELS, STREAM_MODELS, parse_request
from tests.providers.conftest import endpoint

MLFLOW_PYTHON = Path("/work/mlflow-venv/bin/python")
pytestmark = pytest.mark.skipif(not MLFLOW_PYTHON.exists(), reason="MLflow's venv is absent")

USER = [{"role": "user", "content": "x"}]
REQUESTS = [
    ("llm/v1/chat", {"messages": USER}),
    ("llm/v1/chat", {"messages": []}),
    ("llm/v1/chat", {"messages": USER, "tools": []}),
    ("llm/v1/chat", {"messages": USER, "stop": "x"}),
    ("llm/v1/chat", {"messages": USER, "stop": []}),
    ("llm/v1/chat", {"messages": [{"role": "user"}]}),
    ("llm/v1/chat", {"messages": USER, "tool_choice": "any"}),
    ("llm/v1/chat", {"messages": USER, "tool_choice": {"type": "function",
                                                       "function": {"name": "f"}}}),
    ("llm/v1/chat", {"messages": USER, "temperature": 2.5}),
    ("llm/v1/chat", {"messages": USER, "top_p": 1.0, "n": 2, "max_tokens": 1}),
    ("llm/v1/chat", {"messages": USER, "max_completion_tokens": 0}),
    ("llm/v1/chat", {"messages": USER, "presence_penalty": -2.5}),
    ("llm/v1/chat", {"messages": USER, "response_format": {"type": "xml"}}),
    ("llm/v1/chat", {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]}),
    ("llm/v1/chat", {"messages": [{"role": "user", "content": [{"type": "video"}]}]}),
    ("llm/v1/chat", {"messages": USER, "tools": [{"type": "uc_function",
                                                  "uc_function": {"name": "a.b.c"}}]}),
    ("llm/v1/chat", {"messages": USER, "tools": [{"type": "retrieval"}]}),
    ("llm/v1/completions", {"prompt": "p"}),
    ("llm/v1/completions", {"prompt": ["p"]}),
    ("llm/v1/completions", {}),
    ("llm/v1/completions", {"prompt": "p", "top_k": 0}),
    ("llm/v1/embeddings", {"input": "a"}),
    ("llm/v1/embeddings", {"input": [[1, 2], [3]]}),
    ("llm/v1/embeddings", {"input": {"a": 1}}),
    ("llm/v1/embeddings", {}),
]
RESPONSES = [
    ("llm/v1/chat", False, {"created": 1, "model": "m", "usage": {"prompt_tokens": 1,
                                                                  "extra_count": 3},
                            "choices": [{"index": 0, "message": {
                                "role": "assistant", "content": None, "tool_call_id": "t",
                                "tool_calls": [{"id": "c", "function": {"name": "f"}}]}}]}),
    ("llm/v1/chat", True, {"created": 1, "model": "m", "choices": [
        {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}}]}),
    ("llm/v1/completions", False, {"created": 1, "model": "m", "usage": {},
                                   "choices": [{"index": 0, "text": "t"}]}),
    ("llm/v1/completions", True, {"created": 1, "model": "m", "choices": [{"index": 0}]}),
    ("llm/v1/embeddings", False, {"model": "m", "usage": {}, "data": [
        {"embedding": [0.5], "index": 0}, {"embedding": "AAAA", "index": 1}]}),
]

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
GEMINI = {
    "candidates": [
        {"content": {"parts": [{"text": "Hello"}], "role": "model"}, "finishReason": "STOP",
         "index": 0},
        {"content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}},
                                "thoughtSignature": "sig"}], "role": "model"},
         "finishReason": "STOP", "index": 1},
        {"content": {"parts": [{"text": "cut"}]}, "finishReason": "MAX_TOKENS", "index": 2},
    ],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 5, "totalTokenCount": 8,
                      "cachedContentTokenCount": 1, "thoughtsTokenCount": 2},
}

_SCRIPT = """
import json, sys
from pydantic import ValidationError
import mlflow
from mlflow.gateway.config import EndpointConfig
from mlflow.gateway.providers.anthropic import AnthropicAdapter
from mlflow.gateway.providers.gemini import GeminiAdapter
from mlflow.gateway.providers.openai import OpenAIAdapter
from mlflow.gateway.schemas import chat, completions, embeddings
req = {"llm/v1/chat": chat.RequestPayload, "llm/v1/completions": completions.RequestPayload,
       "llm/v1/embeddings": embeddings.RequestPayload}
resp = {"llm/v1/chat": chat.ResponsePayload, "llm/v1/completions": completions.ResponsePayload,
        "llm/v1/embeddings": embeddings.ResponsePayload}
stream = {"llm/v1/chat": chat.StreamResponsePayload,
          "llm/v1/completions": completions.StreamResponsePayload}
cases = json.load(sys.stdin)
accepted = []
for kind, body in cases["requests"]:
    try:
        req[kind](**body)
        accepted.append(True)
    except ValidationError:
        accepted.append(False)
dumped = [json.loads((stream if is_stream else resp)[kind](**body).model_dump_json())
          for kind, is_stream, body in cases["responses"]]
def cfg(provider, config):
    return EndpointConfig(name="ep", endpoint_type="llm/v1/chat",
                          model={"provider": provider, "name": "m", "config": config})
oa = cfg("openai", {"openai_api_key": "k"})
an = cfg("anthropic", {"anthropic_api_key": "k"})
print(json.dumps({
    "accepted": accepted,
    "dumped": dumped,
    "chat": OpenAIAdapter.model_to_chat(cases["openai_chat"], oa).model_dump(mode="json"),
    "chunk": OpenAIAdapter.model_to_chat_streaming(cases["openai_chunk"], oa).model_dump(
        mode="json"),
    "embeddings": OpenAIAdapter.model_to_embeddings(cases["openai_embeddings"], oa).model_dump(
        mode="json"),
    "anthropic": AnthropicAdapter.model_to_chat(cases["anthropic"], an).model_dump(mode="json"),
    "gemini": GeminiAdapter.model_to_chat(
        cases["gemini"], cfg("gemini", {"gemini_api_key": "k"})).model_dump(mode="json"),
    "from": mlflow.__file__,
}))
"""


@pytest.fixture(scope="module")
def mlflow_out():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cases = {"requests": REQUESTS, "responses": RESPONSES, "openai_chat": OPENAI_CHAT,
             "openai_chunk": OPENAI_CHUNK, "openai_embeddings": OPENAI_EMBEDDINGS,
             "anthropic": ANTHROPIC, "gemini": GEMINI}
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", _SCRIPT], input=json.dumps(cases), capture_output=True,
        text=True, timeout=120, cwd=tempfile.gettempdir(), env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["from"].startswith(str(MLFLOW_PYTHON.parents[1]))
    return out


def _accepted(kind, body):
    try:
        parse_request(kind, body)
        return True
    except ValidationError:
        return False


def test_same_requests_accepted(mlflow_out):
    ours = [_accepted(kind, body) for kind, body in REQUESTS]
    assert ours == mlflow_out["accepted"]


def test_same_response_json(mlflow_out):
    ours = [
        json.loads((STREAM_MODELS if is_stream else RESPONSE_MODELS)[kind]
                   .model_validate(body).model_dump_json())
        for kind, is_stream, body in RESPONSES
    ]
    assert ours == mlflow_out["dumped"]


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


async def test_gemini_chat(mlflow_out, client):
    from mlflow.testing.providers.gemini import GeminiFake

    async with GeminiFake(api_key=None) as fake:
        fake.inject(200, GEMINI)  # the fake answers this exact body
        provider = build_provider(endpoint("gemini", {"gemini_api_key": "k"}, model="m"),
                                  client, api_base=fake.api_base)
        ours = _without_provider(await provider.chat({"messages": [{"role": "user",
                                                                    "content": "x"}]}))
    theirs = mlflow_out["gemini"]
    for key in ("created", "id"):  # time-derived on both sides
        ours.pop(key), theirs.pop(key)
    # MLflow derives a missing call id from an MD5 of the call, we from a SHA-256: both stable.
    ours_call = ours["choices"][1]["message"]["tool_calls"][0]
    theirs_call = theirs["choices"][1]["message"]["tool_calls"][0]
    assert ours_call.pop("id").startswith("call_") and theirs_call.pop("id").startswith("call_")
    assert ours == theirs
