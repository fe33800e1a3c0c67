"""Amazon Bedrock (Converse, ConverseStream, InvokeModel embeddings) against its fake, with every
attempt's SigV4 signature checked by botocore's independent signer."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers import build_provider
from mlflow.gateway.providers._eventstream import (
    EventStreamDecoder,
    EventStreamError,
    encode_message,
)
from mlflow.gateway.schemas import chat
from mlflow.testing.providers.bedrock import BedrockFake
from tests.providers.conftest import CHAT_BODY, collect, endpoint, fast_policy

AK, SK, TOKEN = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-tok-12345"
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def expected_signature(recorded, base_url, secret, token=None, service="bedrock"):
    """botocore's signature over the same signed headers (host, x-amz-content-sha256,
    x-amz-date[, token])."""
    headers = {
        "host": recorded.header("host"),
        "x-amz-content-sha256": recorded.header("x-amz-content-sha256"),
        "x-amz-date": recorded.header("x-amz-date"),
    }
    if token:
        headers["x-amz-security-token"] = token
    # The path as boto3 sends it (each segment percent-encoded); yarl may send ":" as is, and
    # SigV4 servers canonicalize from the decoded path, so the signature is the same.
    path = "/".join(quote(segment, safe="") for segment in recorded.path.split("/"))
    request = AWSRequest(method=recorded.method, url=base_url + path, data=recorded.body,
                         headers=headers)
    request.context["timestamp"] = recorded.header("x-amz-date")
    credential = recorded.header("Authorization").split("Credential=")[1].split("/")[0]
    auth = SigV4Auth(Credentials(credential, secret, token), service, "us-east-1")
    auth._modify_request_before_signing = lambda r: None  # sign exactly these headers
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    return auth.signature(string_to_sign, request)


def signature_of(recorded):
    return recorded.header("Authorization").rsplit("Signature=", 1)[1]


@pytest.fixture
async def fake():
    async with BedrockFake(access_key=AK) as server:
        yield server


@pytest.fixture(autouse=True)
def isolated_aws(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def provider_for(fake, client, aws_config, endpoint_type="llm/v1/chat", model=MODEL, **policy):
    ep = endpoint("bedrock", {"aws_config": {"aws_region": "us-east-1", **aws_config}},
                  endpoint_type=endpoint_type, model=model)
    return build_provider(ep, client, fast_policy(**policy), api_base=fake.base_url)


KEYS = {"aws_access_key_id": AK, "aws_secret_access_key": SK}


async def test_converse_signed_translated(fake, client):
    provider = provider_for(fake, client, {**KEYS, "aws_session_token": TOKEN})
    body = {"messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "hello there"}],
            "max_tokens": 20, "temperature": 0.2, "stop": ["x"]}
    result = await provider.chat(body)
    (sent,) = fake.requests
    assert sent.path == f"/model/{MODEL}/converse"
    assert sent.json() == {
        "messages": [{"role": "user", "content": [{"text": "hello there"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 20, "temperature": 0.2, "stopSequences": ["x"]},
    }
    assert sent.header("x-amz-security-token") == TOKEN
    assert signature_of(sent) == expected_signature(sent, fake.base_url, SK, TOKEN)
    assert result["choices"] == [{
        "index": 0,
        "message": {"role": "assistant", "content": "Echo: hello there", "tool_calls": None,
                    "refusal": None},
        "finish_reason": "stop",
    }]
    assert result["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert result["provider"] == "bedrock" and result["model"] == MODEL
    assert chat.ResponsePayload.model_validate(result).model_dump(mode="json") == result


async def test_each_retry_is_signed_afresh(fake, client):
    fake.inject(429, {"message": "Too many requests, please wait before trying again."},
                headers={"x-amzn-ErrorType": "ThrottlingException", "Retry-After": "0.01"},
                times=1)
    provider = provider_for(fake, client, KEYS)
    await provider.chat(CHAT_BODY)
    assert len(fake.requests) == 2
    for sent in fake.requests:
        assert signature_of(sent) == expected_signature(sent, fake.base_url, SK)


async def test_assume_role_once_then_signed_with_temporary_keys(fake, client, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SK)
    provider = provider_for(fake, client, {"aws_role_arn": "arn:aws:iam::123:role/r",
                                           "session_length_seconds": 900})
    await provider.chat(CHAT_BODY)
    await provider.chat(CHAT_BODY)
    sts, first, second = fake.requests
    assert sts.path == "/" and fake.assumed[0]["RoleArn"] == "arn:aws:iam::123:role/r"
    assert fake.assumed[0]["DurationSeconds"] == "900" and len(fake.assumed) == 1
    assert signature_of(sts) == expected_signature(sts, fake.base_url, SK, service="sts")
    assert "Credential=ASIA" in first.header("Authorization")
    assert first.header("x-amz-security-token") == "assumed-session-token"
    assert signature_of(second) == expected_signature(second, fake.base_url, "assumed-secret",
                                                      "assumed-session-token")


async def test_default_chain(fake, client, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AK)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SK)
    await provider_for(fake, client, {}).chat(CHAT_BODY)
    (sent,) = fake.requests
    assert signature_of(sent) == expected_signature(sent, fake.base_url, SK)


async def test_default_chain_without_credentials_is_a_clear_error(fake, client):
    with pytest.raises(AIGatewayException) as info:
        await provider_for(fake, client, {}).chat(CHAT_BODY)
    assert info.value.status_code == 500 and "AWS_ACCESS_KEY_ID" in info.value.detail
    assert fake.requests == []


async def test_stream_text_tools_and_failure(client):
    async with BedrockFake(access_key=AK, tool_call={"name": "f", "arguments": {"a": 1}}) as fake:
        provider = provider_for(fake, client, KEYS)
        chunks = await collect(provider.chat_stream({**CHAT_BODY, "stream": True}))
        sent = fake.requests[-1]
        assert sent.path.endswith("/converse-stream")
        assert signature_of(sent) == expected_signature(sent, fake.base_url, SK)
        text = "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks if c["choices"])
        assert text == "Echo: hello there"
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 5
        for c in chunks:
            assert chat.StreamResponsePayload.model_validate(c).model_dump(mode="json") == c

        tools = [{"type": "function", "function": {"name": "f"}}]
        chunks = await collect(provider.chat_stream({**CHAT_BODY, "tools": tools,
                                                     "tool_choice": "required"}))
        assert fake.requests[-1].json()["toolConfig"] == {
            "tools": [{"toolSpec": {"name": "f", "description": "",
                                    "inputSchema": {"json": {"type": "object",
                                                             "properties": {}}}}}],
            "toolChoice": {"any": {}}}
        calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks
                 if c["choices"] and c["choices"][0]["delta"]["tool_calls"]]
        assert calls[0]["id"] == "tooluse_0" and calls[0]["function"]["name"] == "f"
        assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"a": 1}
        result = await provider.chat({**CHAT_BODY, "tools": tools})
        assert result["choices"][0]["finish_reason"] == "tool_calls"

        fake.inject(stream_error_after=2)
        got = []
        with pytest.raises(AIGatewayException) as info:
            async for chunk in provider.chat_stream({**CHAT_BODY, "stream": True}):
                got.append(chunk)
        assert len(got) == 2 and info.value.status_code == 502
        assert "The model stream failed." in info.value.detail


async def test_embeddings_titan_and_cohere(fake, client):
    titan = provider_for(fake, client, KEYS, "llm/v1/embeddings", "amazon.titan-embed-text-v2:0")
    result = await titan.embeddings({"input": ["one", "two words", "three"]})
    sent = sorted(r.json()["inputText"] for r in fake.requests)
    assert sent == ["one", "three", "two words"]
    assert [d["index"] for d in result["data"]] == [0, 1, 2]
    one = await titan.embeddings({"input": "one"})
    assert result["data"][0]["embedding"] == one["data"][0]["embedding"]
    assert result["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    cohere = provider_for(fake, client, KEYS, "llm/v1/embeddings", "cohere.embed-english-v3")
    result = await cohere.embeddings({"input": ["a", "b"]})
    assert fake.requests[-1].json() == {"texts": ["a", "b"], "input_type": "search_document"}
    assert len(result["data"]) == 2


async def test_errors_scrub_and_status(client):
    async with BedrockFake(access_key="AKIDOTHER") as fake:
        provider = provider_for(fake, client, KEYS)
        with pytest.raises(AIGatewayException) as info:
            await provider.chat(CHAT_BODY)
        assert info.value.status_code == 403
        assert info.value.detail == "The security token included in the request is invalid."
        assert SK not in info.value.detail


def test_eventstream_codec_round_trip_and_checksums():
    frames = encode_message({":event-type": "a"}, b'{"x":1}') + encode_message({}, b"")
    decoder = EventStreamDecoder()
    got = [m for i in range(len(frames)) for m in decoder.feed(frames[i:i + 1])]
    assert [(m.headers, m.payload) for m in got] == [({":event-type": "a"}, b'{"x":1}'),
                                                     ({}, b"")]
    broken = bytearray(frames)
    broken[20] ^= 0xFF
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(bytes(broken))


def test_missing_region_is_refused_at_start_up():
    from mlflow.gateway.providers import provider_support_error

    config = endpoint("bedrock", {"aws_config": {}}, model=MODEL)
    reason = provider_support_error(config)
    assert reason == ("Endpoint 'ep': Amazon Bedrock needs an AWS region: set 'aws_region' in "
                      "the endpoint's aws_config, or AWS_REGION.")
    assert provider_support_error(endpoint("bedrock", {"aws_config": {"aws_region": "eu-west-1"}},
                                           model=MODEL)) is None
