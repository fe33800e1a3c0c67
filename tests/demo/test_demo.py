"""The README's first command, ``python -m benchmarks.demo``, run as a user runs it (a process of
its own, here from a temporary directory) without the benchmark: every section runs and says
what the gateway did."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SECTIONS = [
    "1. The blocking client",
    "2. The async twins",
    "3. The official OpenAI SDK",
    "4. Throttling",
    "5. The CLI: mlflow deployments predict-batch",
    "6. An unthrottled burst",
    "7. The same API on other targets",
    "Done (benchmark skipped)",
]


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory) -> str:
    pytest.importorskip("openai")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # benchmarks/ is the repository's, not packaged
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.demo", "--no-bench"],
        cwd=tmp_path_factory.mktemp("demo"), env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_every_section_runs_in_order(demo_output):
    positions = [demo_output.find(f"== {title}") for title in SECTIONS]
    assert -1 not in positions, [t for t, p in zip(SECTIONS, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    assert "Traceback" not in demo_output


def test_blocking_client_and_anthropic_translation(demo_output):
    for name in ("chat", "completions", "embeddings", "chat-limited", "claude"):
        assert re.search(rf"list_endpoints\(\): {re.escape(name)}\s", demo_output), name
    assert "limit 40/second" in demo_output
    assert "predict(endpoint='chat') -> 'Echo: What does mlflow-aio do?'" in demo_output
    assert ("predict(endpoint='claude') -> 'Echo: Translate me', provider 'anthropic', "
            "object 'chat.completion'") in demo_output
    # What the gateway sent upstream is Anthropic's Messages API, system prompt lifted out.
    assert re.search(r"sent POST /v1/messages to the Anthropic fake: .*\"system\": \"Be brief.\"",
                     demo_output)
    assert re.search(r"predict_stream\(endpoint='claude'\) -> [2-9]\d* chunks: "
                     r"'Echo: stream these words to me'", demo_output)


def test_async_twins_and_openai_sdk(demo_output):
    assert re.search(r"gather\(50 x apredict\(endpoint='chat'\)\) -> 50 answers", demo_output)
    assert "apredict_stream(endpoint='completions') -> " in demo_output
    assert "'Echo: one two three four'" in demo_output
    assert "chat.completions.create(model='chat') -> 'Echo: What does mlflow-aio do?'" \
        in demo_output
    assert re.search(r"create\(stream=True\) -> [2-9]\d* chunks: 'Echo: stream it please'",
                     demo_output)
    assert "-> 2 vectors of 8" in demo_output
    assert "model='no-such-endpoint') -> openai.NotFoundError 404" in demo_output


def test_throttled_batch_and_cli_get_no_refusal(demo_output):
    assert "120/120 answered, 0 errors" in demo_output
    assert "the gateway refused 0 requests with 429" in demo_output
    cli = re.search(r"exit status (\d+) .*out\.jsonl: (\d+) lines, (\d+) errors; "
                    r"the gateway refused (\d+) with 429", demo_output)
    assert cli is not None and cli.groups() == ("0", "40", "0", "0")


def test_unthrottled_burst_is_refused_with_retry_after(demo_output):
    burst = re.search(r"(\d+) answered, (\d+) refused with openai.RateLimitError", demo_output)
    assert burst is not None
    answered, refused = map(int, burst.groups())
    assert answered + refused == 80 and refused >= 40 and answered <= 40
    assert re.search(r"HTTP 429, Retry-After: [1-9]\d*, X-RateLimit-Limit: 40, body "
                     r"\{'error': 'Rate limit exceeded: 40 per 1 second'\}", demo_output)
    counted = re.search(r"rate_limit_refusals_total\) went up by (\d+)", demo_output)
    assert counted is not None and int(counted.group(1)) == refused


def test_other_targets(demo_output):
    assert "get_deploy_client('openai').predict(endpoint='gpt-4o-mini') -> 'Echo:" in demo_output
    assert "list_endpoints() -> ['chat', 'completions', 'embeddings']" in demo_output
    assert "get_deploy_client('databricks').predict(endpoint='chat') -> 'Echo:" in demo_output
