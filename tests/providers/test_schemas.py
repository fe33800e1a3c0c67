"""The schemas serialize MLflow's exact JSON, and the shape builders match them."""

import pytest
from pydantic import ValidationError

from mlflow.gateway.schemas import chat, completions, embeddings, parse_request, shapes


def test_chat_response_has_mlflows_null_fields():
    dumped = chat.ResponsePayload(
        created=1,
        model="m",
        choices=[{"index": 0, "message": {"role": "assistant", "content": "hi",
                                          "tool_call_id": "x"}}],
        usage={"prompt_tokens": 1},
    ).model_dump(mode="json")
    assert dumped == {
        "id": None,
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi", "tool_calls": None,
                            "refusal": None},
                "finish_reason": None,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": None, "total_tokens": None},
        "provider": None,
    }


def test_chat_builders_match_models():
    message = shapes.chat_message("hi", tool_calls=[shapes.tool_call("c1", "f", "{}")])
    built = shapes.chat_response(
        model="m", created=5, id="x", provider="openai",
        choices=[{"index": 0, "message": message, "finish_reason": "stop"}],
        usage_block=shapes.usage(2, 3),
    )
    assert built["usage"]["total_tokens"] == 5
    assert chat.ResponsePayload.model_validate(built).model_dump(mode="json") == built
    chunk = shapes.chat_chunk(model="m", created=5, content="x", role="assistant")
    assert chat.StreamResponsePayload.model_validate(chunk).model_dump(mode="json") == chunk
    assert chunk["usage"] is None and chunk["choices"][0]["delta"]["tool_calls"] is None


def test_completions_and_embeddings_builders_match_models():
    built = shapes.completions_response(
        model="m", created=1, texts=[("a", "stop"), ("b", None)], usage_block=shapes.usage(1, 2)
    )
    assert completions.ResponsePayload.model_validate(built).model_dump(mode="json") == built
    chunk = shapes.completions_chunk(model="m", created=1, text="a")
    dumped = completions.StreamResponsePayload.model_validate(chunk).model_dump(mode="json")
    assert dumped == chunk
    emb = shapes.embeddings_response(model="m", vectors=[[0.5], [1.0]], prompt_tokens=3,
                                     total_tokens=3)
    assert embeddings.ResponsePayload.model_validate(emb).model_dump(mode="json") == emb
    assert [d["index"] for d in emb["data"]] == [0, 1]


def test_tool_call_thought_signature_dropped_when_null():
    assert "thought_signature" not in chat.ToolCall(id="1", function={}).model_dump()
    kept = chat.ToolCall(id="1", function={}, thought_signature="s").model_dump()
    assert kept["thought_signature"] == "s"


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": [{"role": "user", "content": "hi"}], "temperature": 3},
        {"messages": [{"role": "user", "content": "hi"}], "temperature": float("nan")},
        {"messages": [{"role": "user", "content": "hi"}], "n": 0},
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
        {"messages": [{"role": "user", "content": "hi"}], "stop": []},
        {"messages": [{"role": "user", "content": [{"type": "bogus"}]}]},
        {"messages": "hi"},
        {},
    ],
)
def test_bad_chat_requests_are_refused(body):
    with pytest.raises(ValidationError):
        parse_request("llm/v1/chat", body)


def test_parse_request_keeps_vendor_fields_and_drops_nulls():
    payload = parse_request(
        "llm/v1/chat",
        {"messages": [{"role": "user", "content": "hi"}], "temperature": 0.5, "top_k": None,
         "vendor_x": 1},
    )
    assert payload == {"n": 1, "temperature": 0.5, "vendor_x": 1,
                       "messages": [{"role": "user", "content": "hi"}]}
    assert parse_request("llm/v1/embeddings", {"input": ["a", "b"]}) == {"input": ["a", "b"]}
    with pytest.raises(ValidationError):
        parse_request("llm/v1/completions", {"prompt": 3})
    with pytest.raises(ValidationError):
        parse_request("llm/v1/embeddings", {"input": {"a": 1}})
