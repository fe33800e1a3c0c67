"""The database-backed serving routes against loopback provider fakes: invocations (chat,
embeddings, streams), the OpenAI-compatible chat route, every passthrough route, the seed's 400s
and 404s, weighted traffic and fallback before the first byte."""

from __future__ import annotations

import json
import random
from collections import Counter
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.db_routes import DB_KEY
from mlflow.gateway.server.db_serving import weighted_order
from mlflow.gateway.server.options import ServerOptions
from mlflow.testing.openai_server import OpenAIServer
from mlflow.testing.providers.anthropic import AnthropicFake
from mlflow.testing.providers.gemini import GeminiFake
from tests.store.fakes import OpenAIWithResponses

OPENAI_KEY = "sk-test-key"


@pytest.fixture
async def fakes():
    async with (
        OpenAIWithResponses(api_key=OPENAI_KEY, echo_key_in_errors=True) as openai,
        OpenAIServer(api_key=OPENAI_KEY) as backup,
        AnthropicFake(api_key="sk-ant-test-key-123456") as anthropic,
        GeminiFake(api_key="gemini-test-key-123456") as gemini,
    ):
        yield SimpleNamespace(openai=openai, backup=backup, anthropic=anthropic, gemini=gemini)


async def _definition(store, name, provider, model, key, api_base):
    secret = await store.create_secret(
        f"{name}-key", {"api_key": key}, provider, {"api_base": api_base}
    )
    return await store.create_model_definition(name, secret.secret_id, provider, model)


@pytest.fixture
async def endpoints(store, fakes):
    gpt = await _definition(
        store, "gpt", "openai", "gpt-4o-mini", OPENAI_KEY, fakes.openai.api_base
    )
    embed = await _definition(
        store, "embed", "openai", "text-embedding-3-small", OPENAI_KEY, fakes.openai.api_base
    )
    claude = await _definition(
        store,
        "claude",
        "anthropic",
        "claude-3-5-sonnet",
        fakes.anthropic.api_key,
        fakes.anthropic.api_base,
    )
    gemini = await _definition(
        store, "gem", "gemini", "gemini-2.0-flash", fakes.gemini.api_key, fakes.gemini.api_base
    )
    backup = await _definition(
        store, "backup", "openai", "gpt-4o-mini", OPENAI_KEY, fakes.backup.api_base
    )
    ids = SimpleNamespace(gpt=gpt, embed=embed, claude=claude, gemini=gemini, backup=backup)
    for name, definition in [
        ("chat", gpt),
        ("embeddings", embed),
        ("claude", claude),
        ("gemini", gemini),
    ]:
        await store.create_endpoint(name, [{"model_definition_id": definition.model_definition_id}])
    await store.create_endpoint("empty", [])
    return ids


@pytest.fixture
async def client(db_uri, endpoints, passphrase_env):
    app = create_app(ServerOptions(backend_store_uri=db_uri, retry_budget_seconds=0))
    async with TestClient(TestServer(app)) as client:
        yield client


CHAT = {"messages": [{"role": "user", "content": "hello"}]}


async def test_invocations_chat_embeddings_and_stream(client, fakes):
    response = await client.post("/gateway/chat/mlflow/invocations", json=CHAT)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"]
    sent = fakes.openai.requests_to("/v1/chat/completions")[-1]
    assert sent.header("authorization") == f"Bearer {OPENAI_KEY}"
    assert sent.json()["model"] == "gpt-4o-mini"

    response = await client.post("/gateway/embeddings/mlflow/invocations", json={"input": "hi"})
    assert response.status == 200
    assert len((await response.json())["data"]) == 1

    response = await client.post("/gateway/chat/mlflow/invocations", json={**CHAT, "stream": True})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    text = await response.text()
    assert text.rstrip().endswith("data: [DONE]") and '"chat.completion.chunk"' in text


@pytest.mark.parametrize("endpoint", ["claude", "gemini"])
async def test_invocations_through_other_providers(client, fakes, endpoint):
    response = await client.post(f"/gateway/{endpoint}/mlflow/invocations", json=CHAT)
    assert response.status == 200, await response.text()
    assert (await response.json())["choices"][0]["message"]["content"] == "Echo: hello"
    stream = await client.post(
        f"/gateway/{endpoint}/mlflow/invocations", json={**CHAT, "stream": True}
    )
    text = await stream.text()
    assert stream.status == 200 and text.rstrip().endswith("data: [DONE]")
    fake = fakes.anthropic if endpoint == "claude" else fakes.gemini
    assert len(fake.requests) == 2


async def test_openai_compatible_chat_route(client, fakes):
    response = await client.post(
        "/gateway/mlflow/v1/chat/completions", json={**CHAT, "model": "chat"}
    )
    assert response.status == 200
    # The provider sees the stored model name, never the endpoint's.
    assert fakes.openai.requests_to("/v1/chat/completions")[-1].json()["model"] == "gpt-4o-mini"
    missing = await client.post("/gateway/mlflow/v1/chat/completions", json=CHAT)
    assert missing.status == 400
    assert (await missing.json())["detail"] == "Missing required 'model' parameter in request body"


BAD_REQUESTS = [
    ("/gateway/chat/mlflow/invocations", b"{nope", "Invalid JSON payload: "),
    (
        "/gateway/chat/mlflow/invocations",
        b'{"prompt": "x"}',
        "Invalid request: payload format must be either chat or embeddings",
    ),
    ("/gateway/chat/mlflow/invocations", b'{"messages": "x"}', "Invalid chat payload: "),
    ("/gateway/mlflow/v1/chat/completions", b"[1]", "Invalid JSON payload: "),
    (
        "/gateway/openai/v1/chat/completions",
        b'{"messages": []}',
        "Missing required 'model' parameter in request body",
    ),
    ("/gateway/anthropic/v1/messages", b"not json", "Invalid JSON payload: "),
]


async def test_bad_requests_are_400_and_nothing_goes_upstream(client, fakes):
    for path, payload, detail in BAD_REQUESTS:
        response = await client.post(
            path, data=payload, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, path
        assert (await response.json())["detail"].startswith(detail), path
    assert fakes.openai.requests == [] and fakes.anthropic.requests == []


async def test_endpoint_without_models_and_unknown_endpoint(client):
    response = await client.post("/gateway/empty/mlflow/invocations", json=CHAT)
    assert response.status == 404
    assert (await response.json())["detail"] == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Endpoint 'empty' has no models configured",
    }
    response = await client.post(
        "/gateway/mlflow/v1/chat/completions", json={**CHAT, "model": "nope"}
    )
    assert response.status == 404
    assert (await response.json())["detail"]["error_code"] == "RESOURCE_DOES_NOT_EXIST"


async def test_openai_passthrough_routes(client, fakes):
    chat = await client.post(
        "/gateway/openai/v1/chat/completions", json={**CHAT, "model": "chat", "temperature": 0.5}
    )
    assert chat.status == 200 and (await chat.json())["object"] == "chat.completion"
    sent = fakes.openai.requests_to("/v1/chat/completions")[-1].json()
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.5

    stream = await client.post(
        "/gateway/openai/v1/chat/completions", json={**CHAT, "model": "chat", "stream": True}
    )
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert (await stream.text()).rstrip().endswith("data: [DONE]")

    embeddings = await client.post(
        "/gateway/openai/v1/embeddings", json={"model": "embeddings", "input": ["a", "b"]}
    )
    assert len((await embeddings.json())["data"]) == 2

    responses = await client.post(
        "/gateway/openai/v1/responses", json={"model": "chat", "input": "hi"}
    )
    assert (await responses.json())["output"][0]["content"][0]["text"] == "echo: hi"
    streamed = await client.post(
        "/gateway/openai/v1/responses", json={"model": "chat", "input": "hi", "stream": True}
    )
    assert "event: response.completed" in await streamed.text()


async def test_anthropic_passthrough(client, fakes):
    body = {"model": "claude", "max_tokens": 64, "messages": [{"role": "user", "content": "yo"}]}
    response = await client.post("/gateway/anthropic/v1/messages", json=body)
    assert response.status == 200
    assert (await response.json())["content"][0]["text"] == "Echo: yo"
    sent = fakes.anthropic.requests_to("/v1/messages")[-1]
    assert sent.header("x-api-key") == fakes.anthropic.api_key
    assert sent.header("anthropic-version") == "2023-06-01"
    assert sent.json()["model"] == "claude-3-5-sonnet"

    stream = await client.post("/gateway/anthropic/v1/messages", json={**body, "stream": True})
    events = [line for line in (await stream.text()).splitlines() if line.startswith("event:")]
    assert events[0] == "event: message_start" and events[-1] == "event: message_stop"

    wrong = await client.post("/gateway/anthropic/v1/messages", json={**body, "model": "chat"})
    assert wrong.status == 400
    assert "has no anthropic model" in (await wrong.json())["detail"]


async def test_gemini_passthrough(client, fakes):
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    response = await client.post("/gateway/gemini/v1beta/models/gemini:generateContent", json=body)
    assert response.status == 200
    assert (await response.json())["candidates"][0]["content"]["parts"][0]["text"] == "Echo: hi"
    sent = fakes.gemini.requests_to("/v1beta/models/gemini-2.0-flash:generateContent")
    assert sent and sent[-1].header("x-goog-api-key") == fakes.gemini.api_key

    stream = await client.post(
        "/gateway/gemini/v1beta/models/gemini:streamGenerateContent", json=body
    )
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    frames = [
        json.loads(line[6:])
        for line in (await stream.text()).splitlines()
        if line.startswith("data: ")
    ]
    assert [f["candidates"][0]["content"]["parts"][0]["text"] for f in frames] == ["Echo: ", "hi"]
    streamed = fakes.gemini.requests_to("/v1beta/models/gemini-2.0-flash:streamGenerateContent")
    assert streamed[-1].query == {"alt": "sse"}


async def test_upstream_error_passes_through_with_the_key_scrubbed(client, fakes, store, endpoints):
    await store.update_secret(endpoints.gpt.secret_id, {"api_key": "sk-wrong-key-0123456789"})
    response = await client.post(
        "/gateway/openai/v1/chat/completions", json={**CHAT, "model": "chat"}
    )
    assert response.status == 401
    text = await response.text()
    assert "Incorrect API key provided" in text and "sk-wrong-key-0123456789" not in text


async def test_fallback_to_the_next_model_before_the_first_byte(client, fakes, store, endpoints):
    await store.create_endpoint(
        "pair",
        [
            {"model_definition_id": endpoints.gpt.model_definition_id, "weight": 1},
            {"model_definition_id": endpoints.backup.model_definition_id, "weight": 0},
        ],
    )
    fakes.openai.inject(503, {"error": {"message": "overloaded"}}, times=None)
    for path, payload in [
        ("/gateway/pair/mlflow/invocations", CHAT),
        ("/gateway/pair/mlflow/invocations", {**CHAT, "stream": True}),
        ("/gateway/openai/v1/chat/completions", {**CHAT, "model": "pair"}),
        ("/gateway/openai/v1/chat/completions", {**CHAT, "model": "pair", "stream": True}),
    ]:
        response = await client.post(path, json=payload)
        assert response.status == 200, (path, await response.text())
        await response.read()
    assert len(fakes.backup.requests_to("/v1/chat/completions")) == 4
    assert fakes.openai.requests_to("/v1/chat/completions")  # tried first every time
    # When every model fails, the caller gets the last failure's status.
    fakes.backup.inject(503, {"error": {"message": "down"}}, times=None)
    response = await client.post(
        "/gateway/openai/v1/chat/completions", json={**CHAT, "model": "pair"}
    )
    assert response.status == 503


def _share(counts: Counter, key, total: int) -> float:
    return 100.0 * counts[key] / total


async def test_weights_are_honoured_at_the_selection_function(client, store, endpoints):
    endpoint = await store.create_endpoint(
        "split",
        [
            {"model_definition_id": endpoints.gpt.model_definition_id, "weight": 0.7},
            {"model_definition_id": endpoints.backup.model_definition_id, "weight": 0.2},
            {"model_definition_id": endpoints.embed.model_definition_id, "weight": 0.1},
        ],
    )
    serving = client.server.app[DB_KEY].serving
    serving.rng = random.Random(1234)
    target = await serving.target("split", "llm/v1/chat")
    first = Counter(target.candidates()[0][0] for _ in range(2000))
    mapping_ids = [m.mapping_id for m in endpoint.model_mappings]
    for mapping_id, expected in zip(mapping_ids, (70, 20, 10), strict=True):
        assert abs(_share(first, mapping_id, 2000) - expected) <= 3
    # Every other model follows as a fallback, in stored order.
    assert [name for name, _ in target.candidates()][1:] in (
        mapping_ids[1:],
        [mapping_ids[0], mapping_ids[2]],
        mapping_ids[:2],
    )
    # The passthrough routes draw with the same rule.
    rng = random.Random(99)
    picks = Counter(weighted_order(["a", "b"], [3.0, 1.0], rng)[0] for _ in range(2000))
    assert abs(_share(picks, "a", 2000) - 75) <= 3


async def test_weights_end_to_end(client, fakes, store, endpoints):
    await store.create_endpoint(
        "halves",
        [
            {"model_definition_id": endpoints.gpt.model_definition_id, "weight": 1},
            {"model_definition_id": endpoints.backup.model_definition_id, "weight": 3},
        ],
    )
    client.server.app[DB_KEY].serving.rng = random.Random(5)
    for _ in range(200):
        response = await client.post("/gateway/halves/mlflow/invocations", json=CHAT)
        assert response.status == 200
        await response.read()
    backup = len(fakes.backup.requests_to("/v1/chat/completions"))
    primary = len(fakes.openai.requests_to("/v1/chat/completions"))
    assert primary + backup == 200
    assert 60 <= 100 * backup / 200 <= 90  # 75% expected; loose: 200 draws


async def test_endpoint_limit_tag_is_validated_and_applied(client, store, fakes, monkeypatch):

    from mlflow.exceptions import MlflowException

    chat = await store.get_endpoint(name="chat")
    with pytest.raises(MlflowException, match="calls must be a whole number >= 1"):
        await store.set_endpoint_tag(
            chat.endpoint_id, "mlflow.gateway.limit", '{"calls": 0, "renewal_period": "minute"}'
        )
    with pytest.raises(MlflowException, match="'fortnightly' is not a period"):
        await store.set_endpoint_tag(
            chat.endpoint_id,
            "mlflow.gateway.limit",
            '{"calls": 1, "renewal_period": "fortnightly"}',
        )
    await store.set_endpoint_tag(
        chat.endpoint_id, "mlflow.gateway.limit", '{"calls": 2, "renewal_period": "minute"}'
    )

    # The real rate-limit layer: one counter for the endpoint across all three routes.
    client.server.app[DB_KEY].serving.invalidate()
    answers, refusal = [], None
    for path, payload in [
        ("/gateway/chat/mlflow/invocations", CHAT),
        ("/gateway/mlflow/v1/chat/completions", {**CHAT, "model": "chat"}),
        ("/gateway/openai/v1/chat/completions", {**CHAT, "model": "chat"}),
    ]:
        response = await client.post(path, json=payload)
        answers.append(response.status)
        if response.status == 429:
            refusal = (await response.json(), response.headers)
        else:
            await response.read()
    assert answers == [200, 200, 429]
    assert refusal[0] == {"error": "Rate limit exceeded: 2 per 1 minute"}
    assert int(refusal[1]["Retry-After"]) >= 1
    assert len(fakes.openai.requests_to("/v1/chat/completions")) == 2  # the refusal sent nothing


async def test_cached_credentials_expire_with_the_secrets_ttl(client, store, endpoints):
    serving = client.server.app[DB_KEY].serving
    now = [1000.0]
    serving._clock = lambda: now[0]
    serving.invalidate()
    first = await serving.target("chat", "llm/v1/chat")
    assert await serving.target("chat", "llm/v1/chat") is first
    assert serving.max_age == store.secrets_cache.ttl == 60
    now[0] += 59.9
    serving._checked_at = now[0]  # no version poll: only the age matters here
    assert await serving.target("chat", "llm/v1/chat") is first
    now[0] += 0.2
    serving._checked_at = now[0]
    assert await serving.target("chat", "llm/v1/chat") is not first
