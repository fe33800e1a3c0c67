"""Every streaming client reads server-sent events with the one codec (async_core.sse): a loopback
server writes the stream in small pieces (CRLF split between writes, multi-line data, comments,
event/id fields, a BOM), and ``[DONE]`` ends the stream."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

import mlflow.deployments.databricks as databricks_module
from mlflow.deployments import get_deploy_client
from mlflow.exceptions import MlflowException
from mlflow.utils.rest_utils import MlflowHostCreds

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def _chunk(text: str) -> dict:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {
        "content": text}, "finish_reason": None}]}


def _split_event(obj: dict, eol: bytes) -> bytes:
    """One event whose JSON is spread over two ``data:`` lines (valid SSE: joined with LF)."""
    text = json.dumps(obj)
    cut = text.index(",") + 1
    return b"data: " + text[:cut].encode() + eol + b"data: " + text[cut:].encode() + eol + eol


LENIENT = (
    b"\xef\xbb\xbf: a comment first\r\n\r\n"
    + b"event: delta\r\nid: 1\r\nretry: 100\r\n"
    + _split_event(_chunk("Hel"), b"\r\n")
    + _split_event(_chunk("lo"), b"\n")
    + b"data: [DONE]\r\n\r\n"
    + b"data: not json, never read\n\n"
)
DATA_ONLY = _split_event(_chunk("Hel"), b"\r\n") + _split_event(_chunk("lo"), b"\r") + (
    b"data: [DONE]\n\ndata: {broken\n\n")


class Dribbler:
    """A loopback server answering every POST with ``body`` written 3 bytes at a time."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.requests: list[tuple[str, dict]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, await request.json()))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(0, len(self.body), 3):
            await response.write(self.body[i : i + 3])
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc) -> None:
        await self._runner.cleanup()


def _texts(chunks) -> str:
    return "".join(c["choices"][0]["delta"]["content"] for c in chunks)


async def test_gateway_client_joins_multiline_data_and_stops_at_done():
    async with Dribbler(LENIENT) as url:
        client = get_deploy_client(url)
        chunks = [c async for c in client.apredict_stream(endpoint="chat", inputs=CHAT)]
    assert _texts(chunks) == "Hello"


async def test_openai_client_reads_the_same_stream(monkeypatch):
    async with Dribbler(LENIENT) as url:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_API_BASE", url + "/v1")
        client = get_deploy_client("openai")
        chunks = [c async for c in client.apredict_stream(endpoint="gpt-4o", inputs=CHAT)]
    assert _texts(chunks) == "Hello"


async def test_databricks_client_reads_split_events_and_keeps_mlflows_data_only_rule(monkeypatch):
    async with Dribbler(DATA_ONLY) as url:
        monkeypatch.setattr(databricks_module, "get_databricks_host_creds",
                            lambda target_uri: MlflowHostCreds(host=url, token="dapi-x"))
        client = get_deploy_client("databricks")
        chunks = [c async for c in client.apredict_stream(endpoint="chat", inputs=CHAT)]
    assert _texts(chunks) == "Hello"
    # MLflow's Databricks client accepts only ``data:`` lines; its message is kept word for word.
    async with Dribbler(b'data: {"n": 1}\n\nid: 7\n\n') as url:
        monkeypatch.setattr(databricks_module, "get_databricks_host_creds",
                            lambda target_uri: MlflowHostCreds(host=url, token="dapi-x"))
        client = get_deploy_client("databricks")
        stream = client.apredict_stream(endpoint="chat", inputs=CHAT)
        assert await stream.__anext__() == {"n": 1}
        with pytest.raises(MlflowException) as info:
            await stream.__anext__()
        await stream.aclose()
    assert info.value.message == (
        "Unknown response format with key 'id'. Expected 'data: <value>' for streaming "
        "response, got 'id: 7'."
    )


async def test_invalid_json_names_the_event_bounded():
    async with Dribbler(b"data: {" + b"x" * 5000 + b"\n\n") as url:
        client = get_deploy_client(url)
        with pytest.raises(MlflowException) as info:
            _ = [c async for c in client.apredict_stream(endpoint="chat", inputs=CHAT)]
    assert info.value.message.startswith("Invalid JSON in the streamed response event '{xxx")
    assert "(5001 characters)" in info.value.message
    assert len(info.value.message) < 400
