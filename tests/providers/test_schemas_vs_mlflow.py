"""Our schemas against MLflow 3.17's own (run in its separate venv as a subprocess): the same
requests are accepted or refused, and the same responses serialize to the same JSON."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from mlflow.gateway.schemas import RESPONSE_MODELS, STREAM_MODELS, parse_request

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

_SCRIPT = """
import json, sys
from pydantic import ValidationError
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
import mlflow
print(json.dumps({"accepted": accepted, "dumped": dumped, "from": mlflow.__file__}))
"""


@pytest.fixture(scope="module")
def mlflow_answers():
    # Without our PYTHONPATH: the subprocess must import MLflow's package, not ours.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", _SCRIPT], input=json.dumps(
            {"requests": REQUESTS, "responses": RESPONSES}),
        capture_output=True, text=True, timeout=120, cwd=tempfile.gettempdir(), env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    assert answers["from"].startswith(str(MLFLOW_PYTHON.parents[1]))
    return answers


def _accepted(kind, body):
    try:
        parse_request(kind, body)
        return True
    except ValidationError:
        return False


def test_same_requests_accepted(mlflow_answers):
    ours = [_accepted(kind, body) for kind, body in REQUESTS]
    assert ours == mlflow_answers["accepted"]


def test_same_response_json(mlflow_answers):
    ours = [
        json.loads((STREAM_MODELS if is_stream else RESPONSE_MODELS)[kind]
                   .model_validate(body).model_dump_json())
        for kind, is_stream, body in RESPONSES
    ]
    assert ours == mlflow_answers["dumped"]
