"""`mlflow gateway start` as users run it (a subprocess), N workers behind one socket, and SIGTERM
during 200 in-flight requests (streams included) losing none."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from mlflow.testing.openai_server import OpenAIServer
from tests.server.helpers import openai_endpoint

KEY = "sk-test-key"
REPO = Path(__file__).resolve().parents[2]
CHAT = {"messages": [{"role": "user", "content": "hello there general kenobi"}]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _start(config: dict, tmp_path: Path, *args: str):
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mlflow.cli", "gateway", "start", "--config-path", str(path),
        "--port", str(port), *args, env=env, cwd=str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return proc, f"http://127.0.0.1:{port}"


async def _wait_up(url: str, proc) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            if proc.returncode is not None:
                _, err = await proc.communicate()
                raise AssertionError(err.decode()[-2000:])
            try:
                async with session.get(url + "/health") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the gateway did not start")


async def test_invalid_config_fails_at_start(tmp_path):
    bad = openai_endpoint("chat", key=KEY)
    bad["model"]["provider"] = "palm"
    bad["model"]["config"] = {"palm_api_key": KEY}
    proc, _ = await _start({"endpoints": [bad]}, tmp_path)  # the default: 2 workers
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    text = err.decode()
    assert "Error: Endpoint 'chat'" in text and "Traceback" not in text
    assert "palm" in text and "gemini" in text  # says what is wrong and what to use
    assert KEY not in text


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


async def _one(session, url, body, stream):
    async with session.post(url + "/endpoints/chat/invocations",
                            json={**body, "stream": stream}) as r:
        text = await r.text()
        return r.status, text


async def _replace_a_worker(proc) -> None:
    """Kill one of the supervisor's workers; wait for its replacement."""
    for _ in range(100):
        workers = _children(proc.pid)
        if len(workers) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    for _ in range(200):
        now = _children(proc.pid)
        if len(now) == 2 and workers[0] not in now:
            break
        await asyncio.sleep(0.05)
    assert len(now) == 2 and workers[0] not in now


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_sigterm_during_200_in_flight_loses_none(tmp_path, workers):
    """With 2 workers, a killed worker is first replaced by the supervisor."""
    async with OpenAIServer(api_key=KEY, stream_delay=0.05) as upstream:
        upstream.inject(delay=0.5, times=None, path="/v1/chat/completions")
        config = {"endpoints": [openai_endpoint("chat", api_base=upstream.api_base, key=KEY)]}
        proc, url = await _start(config, tmp_path, "--workers", workers,
                                 "--grace-period", "20")
        try:
            await _wait_up(url, proc)
            if workers == "2":
                await _replace_a_worker(proc)
            connector = aiohttp.TCPConnector(limit=0)
            async with aiohttp.ClientSession(connector=connector) as session:
                tasks = [asyncio.ensure_future(_one(session, url, CHAT, i % 4 == 0))
                         for i in range(200)]
                for _ in range(200):  # every request has reached the upstream
                    if len(upstream.requests_to("/v1/chat/completions")) >= 200:
                        break
                    await asyncio.sleep(0.05)
                assert len(upstream.requests_to("/v1/chat/completions")) == 200
                proc.send_signal(signal.SIGTERM)
                results = await asyncio.wait_for(asyncio.gather(*tasks), 30)
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert [status for status, _ in results] == [200] * 200
    streams = [text for i, (_, text) in enumerate(results) if i % 4 == 0]
    assert all(text.endswith("data: [DONE]\n\n") for text in streams)
    assert proc.returncode == 0


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []

