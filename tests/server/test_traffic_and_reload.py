"""Traffic routes (weighted split, fallbacks, cooldown) and hot reload, on the real server."""

from __future__ import annotations

import asyncio
import logging
import random

import yaml

from mlflow.gateway.server.keys import RUNTIME_KEY
from mlflow.gateway.server.traffic import Cooldowns, TrafficSplit
from tests.server.helpers import openai_endpoint, running_gateway
from tests.server.stub_provider import stub_factory

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def _route_config(fallbacks=None):
    route = {"name": "split", "task_type": "llm/v1/chat",
             "destinations": [{"name": "a", "traffic_percentage": 80},
                              {"name": "b", "traffic_percentage": 20}]}
    if fallbacks is not None:
        route["fallbacks"] = fallbacks
    return {"endpoints": [openai_endpoint("a"), openai_endpoint("b"), openai_endpoint("c")],
            "routes": [route]}


def test_weighted_split_follows_percentages():
    split = TrafficSplit(weighted=[("a", 1, 80), ("b", 2, 20)], rng=random.Random(7))
    picks = [split.candidates()[0][0] for _ in range(2000)]
    share = picks.count("a") / len(picks)
    assert 0.77 <= share <= 0.83


def test_cooldown_skips_a_failing_destination_then_recovers():
    now = [0.0]
    cooldowns = Cooldowns(threshold=2, seconds=5.0, clock=lambda: now[0])
    split = TrafficSplit(weighted=[("a", 1, 100)], fallbacks=[("a", 1), ("c", 3)],
                         cooldowns=cooldowns)
    assert [n for n, _ in split.candidates()] == ["a", "c"]
    cooldowns.failed("a")
    cooldowns.failed("a")
    # "a" cools down: still tried, but only after every warm destination.
    assert [n for n, _ in split.candidates()] == ["c", "a"]
    now[0] = 5.0
    assert [n for n, _ in split.candidates()] == ["a", "c"]


async def test_route_falls_back_before_first_byte():
    script = {"fail": {"a": 503, "b": 503}}
    built: dict = {}
    async with running_gateway(_route_config(fallbacks=["a", "b", "c"]),
                               provider_factory=stub_factory(script, built)) as gw:
        for body in (CHAT, {**CHAT, "stream": True}):
            async with gw.session.post("/gateway/split/invocations", json=body) as r:
                assert r.status == 200
                text = await r.text()
                assert "c" in text
        async with gw.session.post("/v1/chat/completions", json={**CHAT, "model": "split"}) as r:
            assert (await r.json())["model"] == "c"
        # After failing three times in a row, the picked destination cools down and "c" is
        # tried first.
        before = built["c"].calls
        calls_a, calls_b = built["a"].calls, built["b"].calls
        async with gw.session.post("/gateway/split/invocations", json=CHAT) as r:
            assert r.status == 200
        assert built["c"].calls == before + 1
        assert (built["a"].calls, built["b"].calls) == (calls_a, calls_b)


async def test_route_without_fallback_reports_the_failure():
    script = {"fail": {"a": 502, "b": 502}}
    async with (
        running_gateway(_route_config(), provider_factory=stub_factory(script)) as gw,
        gw.session.post("/gateway/split/invocations", json=CHAT) as r,
    ):
        assert r.status == 502


async def test_hot_reload_keeps_in_flight_and_refuses_invalid(tmp_path, caplog):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"endpoints": [openai_endpoint("chat")]}))
    script = {"delay": 0.3}
    async with running_gateway(None, provider_factory=stub_factory(script),
                               config_path=str(path), reload_interval=0.05) as gw:
        holder = gw.app[RUNTIME_KEY]
        slow = asyncio.ensure_future(gw.session.post("/endpoints/chat/invocations", json=CHAT))
        await asyncio.sleep(0.05)
        path.write_text(yaml.safe_dump({"endpoints": [openai_endpoint("chat2")]}))
        for _ in range(100):
            if holder.generation == 1:
                break
            await asyncio.sleep(0.02)
        assert holder.generation == 1
        response = await slow  # started before the reload: served by the old endpoint
        assert response.status == 200
        assert (await response.json())["choices"][0]["message"]["content"] == "chat: hi"
        script["delay"] = 0
        async with gw.session.post("/endpoints/chat2/invocations", json=CHAT) as r:
            assert r.status == 200
        async with gw.session.post("/endpoints/chat/invocations", json=CHAT) as r:
            assert r.status == 404
        # An invalid file keeps the old configuration and says why, without the key.
        caplog.set_level(logging.ERROR, logger="mlflow.gateway.server")
        bad = openai_endpoint("chat3", key="sk-secret-456")
        bad["endpoint_type"] = "llm/v1/nonsense"
        path.write_text(yaml.safe_dump({"endpoints": [bad]}))
        for _ in range(100):
            if "invalid" in caplog.text:
                break
            await asyncio.sleep(0.02)
        assert "still serving the previous configuration" in caplog.text
        assert "sk-secret-456" not in caplog.text
        assert holder.generation == 1
        async with gw.session.post("/endpoints/chat2/invocations", json=CHAT) as r:
            assert r.status == 200
