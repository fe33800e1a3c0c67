"""The embedded gateway (for examples and demos): the real app on a background thread, driven
by blocking clients, in front of the packaged OpenAI fake."""

from __future__ import annotations

import openai
import pytest
import yaml

from mlflow.exceptions import MlflowException
from mlflow.gateway.server.embedded import EmbeddedGateway
from mlflow.testing.openai_server import OpenAIServer
from tests.server.helpers import openai_endpoint


def test_running_on_a_thread_serves_blocking_clients(tmp_path):
    with OpenAIServer(api_key="sk-test-key").running() as upstream:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({"endpoints": [
            openai_endpoint("chat", api_base=upstream + "/v1", key="sk-test-key")]}))
        with EmbeddedGateway(path).running() as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
            answer = client.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "hi there"}])
            assert answer.choices[0].message.content
            client.close()


def test_a_config_it_cannot_serve_fails_at_start():
    bad = openai_endpoint("chat")
    bad["model"]["provider"] = "palm"
    bad["model"]["config"] = {"palm_api_key": "k"}
    with pytest.raises(MlflowException, match="palm"), EmbeddedGateway(
        {"endpoints": [bad]}
    ).running():
        pass


async def test_in_the_callers_loop_with_the_demo_config():
    import aiohttp

    from mlflow.gateway.server.embedded import demo_config

    async with OpenAIServer(api_key="sk-test-key") as upstream, EmbeddedGateway(
        demo_config(upstream.api_base)
    ) as url, aiohttp.ClientSession(url) as session:
        async with session.get("/api/2.0/endpoints/") as r:
            names = [e["name"] for e in (await r.json())["endpoints"]]
        assert names == ["chat", "completions", "embeddings"]
        async with session.post("/v1/embeddings",
                                json={"model": "embeddings", "input": "x"}) as r:
            assert r.status == 200 and (await r.json())["data"]
