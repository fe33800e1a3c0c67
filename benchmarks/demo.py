"""The README's first command: the real MLflow AI gateway, used every way, in front of the
provider fakes shipped in the package.

    python -m benchmarks.demo [--no-bench] [--out DIR]

No account and no network: on 127.0.0.1 it starts the packaged OpenAI and Anthropic fakes
(``mlflow.testing``) and, in front of them, the real gateway server (``EmbeddedGateway``: the app
``mlflow gateway start`` serves, with one worker), then

1. calls the gateway through the blocking client (``get_deploy_client``: list_endpoints,
   get_endpoint, predict, predict_stream), including an Anthropic endpoint the gateway translates;
2. awaits the same client (many ``apredict`` at once with ``asyncio.gather``, ``apredict_stream``);
3. drives the gateway's ``/v1`` with the official OpenAI SDK (chat, a stream, embeddings, a typed
   ``NotFoundError``);
4. sends a throttled batch (``predict_batch``, with a progress bar) to an endpoint whose ``limit``
   the gateway enforces, and reads the gateway's own refusal count: 0;
5. runs the same kind of batch through the CLI, ``mlflow deployments predict-batch``;
6. shows the gateway refusing an unthrottled burst: 429 with ``Retry-After``;
7. points the same API at the ``openai`` and ``databricks`` targets (loopback fakes too);
8. runs a few-second version of the benchmark and prints where the chart was written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
from benchmarks.common import ROOT
from mlflow.deployments import get_deploy_client
from mlflow.testing import DatabricksServer, OpenAIServer
from mlflow.testing.fake_gateway import FakeUpstreamGateway, anthropic_endpoint, openai_endpoint
from mlflow.testing.providers.anthropic import AnthropicFake
from mlflow.utils.rest_utils import MlflowHostCreds, http_request

BATCH, CALLS = 120, 40  # 120 questions against 40 calls/second: three windows, about 2 s
CLI_BATCH = 40
BURST = 2 * CALLS
OPENAI_KEY, ANTHROPIC_KEY = "sk-demo-key", "sk-ant-demo-key"
QUESTION = {"messages": [{"role": "user", "content": "What does mlflow-aio do?"}]}
# Bounds on everything that waits, so a broken build fails in seconds instead of hanging.
SDK_TIMEOUT, CLI_TIMEOUT = 20.0, 60.0
_REFUSALS = re.compile(r"^mlflow_gateway_rate_limit_refusals_total\{[^}]*\}\s+(\S+)$", re.M)


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def show(text: str) -> None:
    print(f"   {text}", flush=True)


def reply_of(response: dict[str, Any]) -> str:
    choice = response["choices"][0]
    return (choice.get("message") or {}).get("content") or choice.get("text", "")


def delta_of(chunk: dict[str, Any]) -> str:
    if not chunk.get("choices"):  # the closing usage chunk has none
        return ""
    choice = chunk["choices"][0]
    return (choice.get("delta") or {}).get("content") or choice.get("text") or ""


def gateway_config(openai_api_base: str) -> dict[str, Any]:
    def openai(name: str, endpoint_type: str, model: str, **limit: Any) -> dict[str, Any]:
        return openai_endpoint(name, endpoint_type, model, openai_api_base, OPENAI_KEY, **limit)

    return {"endpoints": [
        openai("chat", "llm/v1/chat", "gpt-4o-mini"),
        openai("completions", "llm/v1/completions", "gpt-3.5-turbo-instruct"),
        openai("embeddings", "llm/v1/embeddings", "text-embedding-3-small"),
        openai("chat-limited", "llm/v1/chat", "gpt-4o-mini", calls=CALLS),
        anthropic_endpoint("claude", "claude-sonnet-4-5", ANTHROPIC_KEY),
    ]}


def refusals(url: str) -> int:
    """The 429s the gateway sent for its own rate limits, from its Prometheus ``/metrics`` (summed
    over the labels: a refusal made before routing carries no endpoint label; only
    'chat-limited' has a limit here)."""
    text = http_request(MlflowHostCreds(url), "/metrics", "GET").text
    return int(sum(float(value) for value in _REFUSALS.findall(text)))


# --- 1. blocking ----------------------------------------------------------------------------------
def blocking_calls(url: str, anthropic: AnthropicFake) -> None:
    step(f"1. The blocking client: client = get_deploy_client({url!r})")
    client = get_deploy_client(url)
    for endpoint in client.list_endpoints():
        limit = endpoint.limit
        limit_text = f", limit {limit.calls}/{limit.renewal_period}" if limit else ""
        show(f"list_endpoints(): {endpoint.name:13s} {endpoint.endpoint_type:18s} "
             f"{endpoint.model.provider}/{endpoint.model.name}{limit_text}")
    show(f"get_endpoint('chat').endpoint_url = {client.get_endpoint('chat').endpoint_url}")
    start = time.perf_counter()
    response = client.predict(endpoint="chat", inputs=QUESTION)
    show(f"predict(endpoint='chat') -> {reply_of(response)!r} "
         f"({(time.perf_counter() - start) * 1000:.1f} ms through the gateway)")
    sent_before = len(anthropic.requests)
    response = client.predict(endpoint="claude", inputs={"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Translate me"}]})
    upstream = anthropic.requests[sent_before]
    show(f"predict(endpoint='claude') -> {reply_of(response)!r}, provider "
         f"{response['provider']!r}, object {response['object']!r}")
    show(f"   the gateway sent {upstream.method} {upstream.path} to the Anthropic fake: "
         f"{json.dumps(upstream.json())}")
    vector = client.predict(endpoint="embeddings", inputs={"input": ["hello"]})
    show(f"predict(endpoint='embeddings') -> {len(vector['data'][0]['embedding'])} dimensions")
    for name in ("chat", "claude"):
        chunks = list(client.predict_stream(endpoint=name, inputs={
            "messages": [{"role": "user", "content": "stream these words to me"}]}))
        text = "".join(map(delta_of, chunks))
        show(f"predict_stream(endpoint={name!r}) -> {len(chunks)} chunks: {text!r}")


# --- 2. awaited -----------------------------------------------------------------------------------
async def awaited_calls(url: str) -> None:
    step("2. The async twins: the same client from async code")
    client = get_deploy_client(url)
    endpoint = await client.aget_endpoint("completions")
    show(f"await client.aget_endpoint('completions') -> {endpoint.name} ({endpoint.model.name})")
    start = time.perf_counter()
    questions = [{"messages": [{"role": "user", "content": f"question {i}"}]} for i in range(50)]
    answers = await asyncio.gather(
        *(client.apredict(endpoint="chat", inputs=q) for q in questions)
    )
    show(f"await asyncio.gather(50 x apredict(endpoint='chat')) -> {len(answers)} answers in "
         f"{(time.perf_counter() - start) * 1000:.0f} ms, the last {reply_of(answers[-1])!r}")
    chunks = [chunk async for chunk in client.apredict_stream(
        endpoint="completions", inputs={"prompt": "one two three four"})]
    show(f"async for chunk in apredict_stream(endpoint='completions') -> {len(chunks)} chunks: "
         f"{''.join(map(delta_of, chunks))!r}")


# --- 3. the OpenAI SDK ----------------------------------------------------------------------------
def openai_sdk(url: str) -> None:
    import openai

    step(f"3. The official OpenAI SDK: openai.OpenAI(base_url={url + '/v1'!r}), model = endpoint")
    with openai.OpenAI(base_url=url + "/v1", api_key="unused", timeout=SDK_TIMEOUT,
                       max_retries=0) as sdk:
        chat = sdk.chat.completions.create(model="chat", messages=QUESTION["messages"])
        show(f"chat.completions.create(model='chat') -> {chat.choices[0].message.content!r}")
        claude = sdk.chat.completions.create(model="claude", messages=QUESTION["messages"])
        show(f"chat.completions.create(model='claude') -> {claude.choices[0].message.content!r}"
             f" (Anthropic behind the same OpenAI API)")
        stream = sdk.chat.completions.create(model="chat", stream=True, messages=[
            {"role": "user", "content": "stream it please"}])
        with stream:
            pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        show(f"chat.completions.create(stream=True) -> {len(pieces)} chunks: {''.join(pieces)!r}")
        vectors = sdk.embeddings.create(model="embeddings", input=["a", "b"])
        show(f"embeddings.create(model='embeddings', input=['a', 'b']) -> {len(vectors.data)} "
             f"vectors of {len(vectors.data[0].embedding)}")
        try:
            sdk.chat.completions.create(model="no-such-endpoint", messages=QUESTION["messages"])
            show("chat.completions.create(model='no-such-endpoint') -> answered (unexpected)")
        except openai.NotFoundError as e:
            show(f"chat.completions.create(model='no-such-endpoint') -> openai.NotFoundError "
                 f"{e.status_code}: {e.response.json()}")


# --- 4. throttled batch ---------------------------------------------------------------------------
def throttled_batch(url: str) -> None:
    client = get_deploy_client(url)
    limit = client.get_endpoint("chat-limited").limit
    step(f"4. Throttling: {BATCH} questions to 'chat-limited', whose limit ({limit.calls} "
         f"calls/{limit.renewal_period}) the gateway enforces with 429s")
    show(f"results = client.predict_batch('chat-limited', inputs=[...{BATCH}], concurrency=16, "
         "progress=True)")
    inputs = [{"messages": [{"role": "user", "content": f"question {i}"}]} for i in range(BATCH)]
    refused_before = refusals(url)
    start = time.perf_counter()
    results = client.predict_batch("chat-limited", inputs, concurrency=16, progress=True)
    elapsed = time.perf_counter() - start
    errors = sum(not r.ok for r in results)
    minimum = -(-BATCH // limit.calls) - 1  # ceil(BATCH / calls) - 1 whole periods
    refused = refusals(url) - refused_before
    show(f"{len(results) - errors}/{BATCH} answered, {errors} errors, in {elapsed:.2f} s "
         f"(the limit allows no less than {minimum} s)")
    show(f"the gateway refused {refused} requests with 429 (its metric "
         "mlflow_gateway_rate_limit_refusals_total): the client read the advertised limit "
         "and paced itself")
    last = results[-1]
    show(f"results[{last.index}].ok = {last.ok}, .result -> {reply_of(last.result)!r}")


# --- 5. the CLI -----------------------------------------------------------------------------------
def cli_batch(url: str) -> None:
    step("5. The CLI: mlflow deployments predict-batch (JSON lines in, one line per input out)")
    time.sleep(1.2)  # let the batch's last window pass: the CLI is a new client with its own pace
    refused_before = refusals(url)
    # The child imports the same mlflow as this process, from whatever directory it runs in.
    package_root = str(Path(mlflow.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory(prefix="mlflow-aio-demo-") as work:
        inputs, outputs = Path(work, "in.jsonl"), Path(work, "out.jsonl")
        inputs.write_text("".join(
            json.dumps({"messages": [{"role": "user", "content": f"line {i}"}]}) + "\n"
            for i in range(CLI_BATCH)))
        command = ["deployments", "predict-batch", "--endpoint", "chat-limited", "-I",
                   "in.jsonl", "-O", "out.jsonl", "--concurrency", "16", "-t", url]
        show(f"$ mlflow {' '.join(command)}   # ({CLI_BATCH} lines in in.jsonl)")
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mlflow", *command], cwd=work, env=env,
                              capture_output=True, text=True, timeout=CLI_TIMEOUT)
        elapsed = time.perf_counter() - start
        lines = [json.loads(line) for line in outputs.read_text().splitlines()] \
            if outputs.exists() else []
    errors = sum("error" in line for line in lines)
    show(f"exit status {done.returncode} in {elapsed:.2f} s (with the interpreter's start-up); "
         f"out.jsonl: {len(lines)} lines, {errors} errors; the gateway refused "
         f"{refusals(url) - refused_before} with 429")
    if lines:
        first = min(lines, key=lambda line: line["index"])
        show(f"first line by index: {{'index': {first['index']}, 'result': ... "
             f"{reply_of(first['result'])!r}}}" if "result" in first else f"{first}")
    if done.returncode != 0:
        show(f"stderr: {done.stderr.strip()[-500:]}")


# --- 6. an unthrottled burst ----------------------------------------------------------------------
async def unthrottled_burst(url: str) -> None:
    import openai

    step(f"6. An unthrottled burst: {BURST} requests at once to 'chat-limited' from a client that "
         "does not pace (the OpenAI SDK, max_retries=0)")
    await asyncio.sleep(1.2)  # let the CLI's last window pass, so some of the burst gets in
    refused_before = refusals(url)
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", timeout=SDK_TIMEOUT,
                                  max_retries=0) as sdk:
        outcomes = await asyncio.gather(*(
            sdk.chat.completions.create(model="chat-limited", messages=[
                {"role": "user", "content": f"burst {i}"}])
            for i in range(BURST)
        ), return_exceptions=True)
    limited = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
    answered = sum(not isinstance(o, BaseException) for o in outcomes)
    other = len(outcomes) - answered - len(limited)
    show(f"{answered} answered, {len(limited)} refused with openai.RateLimitError"
         + (f", {other} other errors" if other else ""))
    if limited:
        e = limited[0]
        show(f"the refusal: HTTP {e.status_code}, Retry-After: "
             f"{e.response.headers.get('retry-after')}, X-RateLimit-Limit: "
             f"{e.response.headers.get('x-ratelimit-limit')}, body {e.response.json()}")
    show(f"the gateway's refusal count (mlflow_gateway_rate_limit_refusals_total) went up by "
         f"{refusals(url) - refused_before}")


# --- 7. other targets -----------------------------------------------------------------------------
def other_targets(openai_url: str, databricks_url: str) -> None:
    step("7. The same API on other targets: 'openai' and 'databricks' (both loopback here)")
    os.environ.update(
        OPENAI_API_KEY=OPENAI_KEY, OPENAI_API_BASE=openai_url + "/v1",
        DATABRICKS_HOST=databricks_url, DATABRICKS_TOKEN="dapi-demo-token",
    )
    client = get_deploy_client("openai")
    response = client.predict(endpoint="gpt-4o-mini", inputs=QUESTION)
    show(f"get_deploy_client('openai').predict(endpoint='gpt-4o-mini') -> {reply_of(response)!r}")
    # The Databricks SDK first probes the host for metadata and logs when it falls back.
    logging.getLogger("databricks.sdk").setLevel(logging.ERROR)
    databricks = get_deploy_client("databricks")
    names = [e["name"] for e in databricks.list_endpoints()]
    show(f"get_deploy_client('databricks').list_endpoints() -> {names}")
    response = databricks.predict(endpoint="chat", inputs=QUESTION)
    show(f"get_deploy_client('databricks').predict(endpoint='chat') -> {reply_of(response)!r}")


# --- 8. quick benchmark ---------------------------------------------------------------------------
def quick_benchmark(out: str) -> None:
    step("8. A quick benchmark (sections a and b, small counts; the full run: "
         "python -m benchmarks.run)")
    from benchmarks.run import main as run_benchmark

    paths = run_benchmark(["--quick", "--sections", "a,b", "--out", out,
                           "--concurrency", "1,16,64"])
    step("Done")
    show(f"chart:    {paths.get('chart', 'not drawn (install matplotlib: .[bench])')}")
    show(f"table:    {paths['markdown']}")
    show(f"JSON:     {paths['json']}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-bench", action="store_true", help="skip the quick benchmark")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"),
                        help="where the benchmark writes its table, JSON and chart")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print("mlflow-aio demo: the real MLflow AI gateway on 127.0.0.1, in front of the provider "
          "fakes shipped in mlflow.testing (no account, no network).", flush=True)
    openai_fake = OpenAIServer(api_key=OPENAI_KEY, stream_delay=0.01)
    anthropic = AnthropicFake(api_key=ANTHROPIC_KEY, stream_delay=0.01)
    databricks = DatabricksServer(token="dapi-demo-token")
    with openai_fake.running() as openai_url, anthropic.running() as anthropic_url, \
            databricks.running() as databricks_url:
        gateway = FakeUpstreamGateway(gateway_config(openai_fake.api_base),
                                      api_bases={"anthropic": anthropic.api_base},
                                      grace_period=2.0)  # a failed step must not hang the exit
        with gateway.running() as url:
            show(f"gateway:   {url}  (mlflow.gateway.server: the app `mlflow gateway start` "
                 "serves, one worker)")
            show(f"upstreams: OpenAI fake {openai_url}, Anthropic fake {anthropic_url}")
            blocking_calls(url, anthropic)
            asyncio.run(awaited_calls(url))
            openai_sdk(url)
            throttled_batch(url)
            cli_batch(url)
            asyncio.run(unthrottled_burst(url))
        other_targets(openai_url, databricks_url)
    show(f"(demo sections took {time.perf_counter() - started:.1f} s)")
    if args.no_bench:
        step("Done (benchmark skipped)")
    else:
        quick_benchmark(args.out)


if __name__ == "__main__":
    main()
