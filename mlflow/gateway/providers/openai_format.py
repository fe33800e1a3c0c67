"""Translation between MLflow's schemas and OpenAI's Chat Completions / Completions / Embeddings
wire format, shared by every provider that speaks it (OpenAI, Azure OpenAI, Mistral, Together AI,
Databricks, Groq, DeepSeek, xAI, OpenRouter, Ollama...)."""

from __future__ import annotations

from typing import Any

from mlflow.gateway.schemas import shapes


def chat_usage(usage: Any) -> dict[str, Any]:
    """MLflow keeps every usage field the upstream sends (its ChatUsage allows extras), and drops
    ``prompt_tokens_details`` when null."""
    usage = dict(usage) if isinstance(usage, dict) else {}
    block = {
        "prompt_tokens": usage.pop("prompt_tokens", None),
        "completion_tokens": usage.pop("completion_tokens", None),
        "total_tokens": usage.pop("total_tokens", None),
    }
    block.update(usage)
    if block.get("prompt_tokens_details", 0) is None:
        del block["prompt_tokens_details"]
    return block


def _tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    out = {
        "id": call.get("id"),
        "type": call.get("type") or "function",
        "function": {"name": function.get("name"), "arguments": function.get("arguments")},
    }
    if call.get("thought_signature") is not None:
        out["thought_signature"] = call["thought_signature"]
    return out


def _tool_call_delta(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    out = {
        "index": call.get("index", 0),
        "id": call.get("id"),
        "type": call.get("type"),
        "function": {"name": function.get("name"), "arguments": function.get("arguments")},
    }
    if call.get("thought_signature") is not None:
        out["thought_signature"] = call["thought_signature"]
    return out


def to_chat(resp: dict[str, Any], provider: str, model: str = "") -> dict[str, Any]:
    choices = []
    for index, choice in enumerate(resp.get("choices") or []):
        message = choice.get("message") or {}
        calls = message.get("tool_calls")
        choices.append(
            {
                "index": index,
                "message": shapes.chat_message(
                    message.get("content"),
                    role=message.get("role") or "assistant",
                    tool_calls=[_tool_call(c) for c in calls] if calls else None,
                    refusal=message.get("refusal"),
                ),
                "finish_reason": choice.get("finish_reason"),
            }
        )
    return shapes.chat_response(
        id=resp.get("id"),
        created=resp.get("created"),
        model=resp.get("model") or model,
        choices=choices,
        usage_block=chat_usage(resp.get("usage")),
        provider=provider,
    )


def to_chat_chunk(resp: dict[str, Any], provider: str, model: str = "") -> dict[str, Any]:
    choices = []
    for choice in resp.get("choices") or []:
        delta = choice.get("delta") or {}
        calls = delta.get("tool_calls")
        choices.append(
            {
                "index": choice.get("index", 0),
                "finish_reason": choice.get("finish_reason"),
                "delta": {
                    "role": delta.get("role"),
                    "content": delta.get("content"),
                    "tool_calls": [_tool_call_delta(c) for c in calls] if calls else None,
                },
            }
        )
    usage = resp.get("usage")
    return shapes.chat_chunk(
        id=resp.get("id"),
        created=resp.get("created"),
        model=resp.get("model") or model,
        choices=choices,
        usage_block=chat_usage(usage) if usage else None,
        provider=provider,
    )


def _plain_usage(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}
    return shapes.usage(
        usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens"),
        derive_total=False,
    )


def to_completions(resp: dict[str, Any], model: str = "") -> dict[str, Any]:
    texts = []
    for choice in resp.get("choices") or []:
        text = (choice.get("message") or {}).get("content") or choice.get("text") or ""
        texts.append((text, choice.get("finish_reason")))
    return shapes.completions_response(
        id=resp.get("id"),
        created=resp.get("created"),
        model=resp.get("model") or model,
        texts=texts,
        usage_block=_plain_usage(resp.get("usage")),
    )


def to_completions_chunk(resp: dict[str, Any], model: str = "") -> dict[str, Any]:
    choices = []
    for choice in resp.get("choices") or []:
        # OpenAI's completions stream carries "text"; chat-style upstreams carry a delta.
        text = choice.get("text")
        if text is None:
            text = (choice.get("delta") or {}).get("content")
        choices.append(
            {"index": choice.get("index", 0), "finish_reason": choice.get("finish_reason"),
             "text": text}
        )
    usage = resp.get("usage")
    return shapes.completions_chunk(
        id=resp.get("id"),
        created=resp.get("created"),
        model=resp.get("model") or model,
        choices=choices,
        usage_block=_plain_usage(usage) if usage else None,
    )


def to_embeddings(resp: dict[str, Any], model: str = "") -> dict[str, Any]:
    data = sorted(resp.get("data") or [], key=lambda d: d.get("index", 0))
    usage = resp.get("usage") or {}
    return shapes.embeddings_response(
        model=resp.get("model") or model,
        vectors=[d.get("embedding") for d in data],
        prompt_tokens=usage.get("prompt_tokens"),
        total_tokens=usage.get("total_tokens"),
    )


def with_usage_requested(payload: dict[str, Any]) -> dict[str, Any]:
    """Ask for the usage chunk at the end of a stream (as MLflow does), keeping the caller's
    other stream options."""
    options = dict(payload.get("stream_options") or {})
    options.setdefault("include_usage", True)
    return {**payload, "stream": True, "stream_options": options}
