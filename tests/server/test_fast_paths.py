"""The request path's fast paths give exactly what the full paths give: the plain chat-body check
against the pydantic model, and the rate-limit layer's skip when no endpoint has a limit (a
limit that arrives by reload is enforced at once)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mlflow.gateway.config import GatewayConfig
from mlflow.gateway.schemas import REQUEST_MODELS, _plain_chat, parse_request
from mlflow.gateway.server import ratelimit
from mlflow.gateway.server.keys import CLIENT_KEY, RUNTIME_KEY
from mlflow.gateway.server.runtime import build_runtime
from mlflow.gateway.server.state import STATE_KEY
from tests.server.helpers import running_gateway
from tests.server.stub_provider import stub_factory

_CHAT_MODEL = REQUEST_MODELS["llm/v1/chat"]

_values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, width=16),
    st.text(max_size=3), st.lists(st.text(max_size=2), max_size=2),
)
_messages = st.lists(
    st.dictionaries(
        st.sampled_from(["role", "content", "name", "tool_call_id"]), _values, max_size=3
    ),
    max_size=3,
)
# Numbers on, inside and just outside every bound of the scalar fields, plus their near misses
# (bools, numeric strings, integral floats, NaN and infinities).
_numbers = st.one_of(
    st.sampled_from([-2, -1, 0, 1, 2, 3, -2.0, -0.0, 0.5, 1.0, 2.0, 2.0000001, -2.0000001,
                     float("nan"), float("inf"), float("-inf"), True, False, "1", "0.5", 10**30]),
    st.floats(-3, 3), st.integers(-3, 100),
)
_scalars = st.one_of(_values, _numbers)
_FIELDS = ["stream", "model", "temperature", "n", "top_p", "presence_penalty",
           "frequency_penalty", "max_tokens", "max_completion_tokens", "top_k", "stop"]
_bodies = st.one_of(
    st.fixed_dictionaries(
        {"messages": _messages},
        optional={name: _scalars for name in _FIELDS},
    ),
    st.fixed_dictionaries(
        {"messages": st.just([{"role": "user", "content": "hi"}])},
        optional={name: _scalars for name in [*_FIELDS, "tools", "user"]},
    ),
    st.dictionaries(st.sampled_from(["messages", "stream", "model"]), _values, max_size=3),
    _values,
)


def _full_path(body):
    return _CHAT_MODEL.model_validate(body).model_dump(mode="json", exclude_none=True,
                                                       by_alias=True)


@settings(max_examples=1500, deadline=None)
@given(_bodies)
def test_plain_chat_check_answers_as_the_model(body) -> None:
    try:
        expected = _full_path(body)
    except ValidationError:
        with pytest.raises(ValidationError):
            parse_request("llm/v1/chat", body)
        return
    got = parse_request("llm/v1/chat", body)
    assert got == expected
    assert list(got) == list(expected)  # the same field order (the upstream body's order)


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": [{"role": "user", "content": "hi"}], "stream": True, "model": "m"},
        {"messages": [{"role": "user", "content": None}, {"role": "assistant"}], "stream": False},
        {"messages": [{"role": "user", "content": "hi"}], "temperature": 0, "max_tokens": 16,
         "top_p": 1, "stop": ["\\n"], "n": 2, "presence_penalty": -2.0, "top_k": 5},
    ],
)
def test_plain_chat_bodies_equal_the_model(body) -> None:
    assert _plain_chat(body) is not None  # these take the fast path
    assert parse_request("llm/v1/chat", body) == _full_path(body)


@pytest.mark.parametrize(
    "body",
    [
        {"messages": []},
        {"messages": [{"role": 1, "content": "x"}]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"content": "x"}]},
        {"messages": [{"role": "user", "content": "x"}], "stream": "yes please"},
        {"messages": [{"role": "user", "content": "x"}], "temperature": float("nan")},
        {"messages": [{"role": "user", "content": "x"}], "temperature": 2.5},
        {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        {"messages": [{"role": "user", "content": "x"}], "n": None},
        {"messages": [{"role": "user", "content": "x"}], "stop": []},
    ],
)
def test_bad_plain_chat_bodies_are_still_refused(body) -> None:
    with pytest.raises(ValidationError):
        parse_request("llm/v1/chat", body)


def _config(limit: dict | None) -> dict:
    model = {"provider": "openai", "name": "gpt-4o-mini", "config": {"openai_api_key": "sk-x"}}
    return {"endpoints": [{"name": "chat", "endpoint_type": "llm/v1/chat", "model": model,
                           "limit": limit}]}


CHAT = {"messages": [{"role": "user", "content": "hi"}]}


async def test_no_limit_anywhere_skips_the_layer_and_a_reloaded_limit_is_enforced() -> None:
    factory = stub_factory({})
    async with running_gateway(_config(None), provider_factory=factory) as gw:
        holder = gw.app[RUNTIME_KEY]
        limiter = gw.app[ratelimit.RATE_LIMITER_KEY]
        assert holder.current.has_limits is False
        for path, body in (("/endpoints/chat/invocations", CHAT),
                           ("/v1/chat/completions", {**CHAT, "model": "chat"})):
            async with gw.session.post(gw.url + path, json=body) as response:
                assert response.status == 200, await response.text()
                assert "X-RateLimit-Limit" not in response.headers
        assert limiter._limiters == {}  # the store was never asked

        # A reload that adds a limit: the next requests are counted and refused past it.
        limited = GatewayConfig.model_validate(
            _config({"calls": 1, "renewal_period": "minute"})
        )
        options = gw.app[STATE_KEY].options
        holder.swap(build_runtime(limited, factory, gw.app[CLIENT_KEY], options))
        assert holder.current.has_limits is True
        statuses = []
        for _ in range(2):
            async with gw.session.post(gw.url + "/endpoints/chat/invocations",
                                       json=CHAT) as response:
                statuses.append(response.status)
                body = await response.json()
        assert statuses == [200, 429]
        assert body == {"error": "Rate limit exceeded: 1 per 1 minute"}


async def test_the_other_layers_still_answer_when_the_rate_limit_layer_is_skipped() -> None:
    async with running_gateway(_config(None), provider_factory=stub_factory({})) as gw:
        response = await gw.session.post(gw.url + "/endpoints/chat/invocations", json=CHAT)
        assert response.status == 200
        assert (await response.json())["choices"][0]["message"]["content"] == "chat: hi"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Request-Id"]
