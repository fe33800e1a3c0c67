"""The README's first command: mlflow-aio used every way, on embedded loopback servers.

    python -m benchmarks.demo [--no-bench] [--out DIR]

No account and no network: it starts an MLflow-gateway-compatible server, an OpenAI-compatible
API and a fake Databricks workspace on 127.0.0.1, then

1. calls the gateway through a blocking ``get_deploy_client(...)`` (list, get, predict) and the
   raw ``http_request``;
2. awaits the same client (``await client.apredict(...)``, many at once);
3. streams a reply (``predict_stream`` and ``async for ... in apredict_stream``);
4. sends a throttled batch with a progress bar, against an endpoint that advertises and enforces
   a rate limit, and shows the server refused nothing;
5. points the same API at the ``openai`` and ``databricks`` targets;
6. runs a few-second version of the benchmark and prints where the chart was written.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import ROOT
from benchmarks.servers import (
    DatabricksServer,
    GatewayEndpoint,
    GatewayServer,
    OpenAIServer,
)
from mlflow.deployments import get_deploy_client
from mlflow.utils.rest_utils import MlflowHostCreds, http_request

BATCH, CALLS = 120, 40  # 120 questions against 40 calls/second: three windows, about 2 s
QUESTION = {"messages": [{"role": "user", "content": "What does mlflow-aio do?"}]}


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def show(text: str) -> None:
    print(f"   {text}", flush=True)


def reply_of(response: dict[str, Any]) -> str:
    choice = response["choices"][0]
    return choice.get("message", {}).get("content") or choice.get("text", "")


def demo_endpoints() -> list[GatewayEndpoint]:
    return [
        GatewayEndpoint("chat", "llm/v1/chat", "gpt-4o-mini"),
        GatewayEndpoint("completions", "llm/v1/completions", "gpt-3.5-turbo-instruct"),
        GatewayEndpoint("embeddings", "llm/v1/embeddings", "text-embedding-3-small"),
        GatewayEndpoint("chat-limited", "llm/v1/chat", "gpt-4o-mini",
                        limit={"calls": CALLS, "renewal_period": "second"}),
    ]


# --- 1. blocking ----------------------------------------------------------------------------------
def blocking_calls(url: str) -> None:
    step(f"1. Blocking calls: client = get_deploy_client({url!r})")
    client = get_deploy_client(url)
    for endpoint in client.list_endpoints():
        limit = endpoint.limit
        limit_text = f", limit {limit.calls}/{limit.renewal_period}" if limit else ""
        show(f"list_endpoints(): {endpoint.name:13s} {endpoint.endpoint_type}{limit_text}")
    chat = client.get_endpoint("chat")
    show(f"get_endpoint('chat').endpoint_url = {chat.endpoint_url}")
    start = time.perf_counter()
    response = client.predict(endpoint="chat", inputs=QUESTION)
    show(f"predict(endpoint='chat') -> {reply_of(response)!r} "
         f"({(time.perf_counter() - start) * 1000:.1f} ms)")
    vector = client.predict(endpoint="embeddings", inputs={"input": ["hello"]})
    show(f"predict(endpoint='embeddings') -> {len(vector['data'][0]['embedding'])} dimensions")
    health = http_request(MlflowHostCreds(url), "/health", "GET")
    show(f"http_request(creds, '/health', 'GET') -> {health.status_code} {health.json()}")


# --- 2. awaited -----------------------------------------------------------------------------------
async def awaited_calls(url: str) -> None:
    step("2. Awaited calls: the same client from async code")
    client = get_deploy_client(url)
    endpoint = await client.aget_endpoint("completions")
    show(f"await client.aget_endpoint('completions') -> {endpoint.name} ({endpoint.model.name})")
    response = await client.apredict(endpoint="completions", inputs={"prompt": "Say hi"})
    show(f"await client.apredict(endpoint='completions') -> {reply_of(response)!r}")
    start = time.perf_counter()
    questions = [{"messages": [{"role": "user", "content": f"question {i}"}]} for i in range(50)]
    answers = await asyncio.gather(
        *(client.apredict(endpoint="chat", inputs=q) for q in questions)
    )
    show(f"asyncio.gather(50 x apredict) -> {len(answers)} answers in "
         f"{(time.perf_counter() - start) * 1000:.0f} ms, the last {reply_of(answers[-1])!r}")


# --- 3. streams -----------------------------------------------------------------------------------
def stream_calls(url: str) -> None:
    step("3. Streams: predict_stream (blocking) and apredict_stream (async)")
    client = get_deploy_client(url)
    words = []
    for chunk in client.predict_stream(endpoint="chat", inputs={
        "messages": [{"role": "user", "content": "stream these words to me"}]
    }):
        delta = chunk["choices"][0].get("delta", {}).get("content")
        if delta:
            words.append(delta)
    show(f"predict_stream -> {len(words)} chunks: {''.join(words)!r}")

    async def consume() -> list[str]:
        texts = []
        async for chunk in client.apredict_stream(
            endpoint="completions", inputs={"prompt": "one two three four"}
        ):
            texts.append(chunk["choices"][0].get("text", ""))
        return texts

    texts = asyncio.run(consume())
    show(f"async for chunk in apredict_stream -> {len(texts)} chunks: {''.join(texts)!r}")


# --- 4. throttled batch ---------------------------------------------------------------------------
def throttled_batch(gateway: GatewayServer, url: str) -> None:
    client = get_deploy_client(url)
    limit = client.get_endpoint("chat-limited").limit
    step(f"4. A throttled batch: {BATCH} questions to 'chat-limited', which advertises "
         f"{limit.calls} calls/{limit.renewal_period} and answers 429 past it")
    show(f"results = client.predict_batch(endpoint='chat-limited', inputs=[...{BATCH}], "
         "concurrency=16)")
    inputs = [{"messages": [{"role": "user", "content": f"question {i}"}]} for i in range(BATCH)]
    start = time.perf_counter()
    # The progress bar shows on a terminal only.
    results = client.predict_batch(endpoint="chat-limited", inputs=inputs, concurrency=16,
                                   progress=sys.stderr.isatty())
    elapsed = time.perf_counter() - start
    errors = sum(not r.ok for r in results)
    minimum = -(-BATCH // limit.calls) - 1  # ceil(BATCH / calls) - 1 whole periods
    show(f"{len(results) - errors}/{BATCH} answered, {errors} errors, in {elapsed:.2f} s "
         f"(the limit allows no less than {minimum} s); the server refused "
         f"{gateway.rejected} requests with 429")
    last = results[-1]
    show(f"results[{last.index}].ok = {last.ok}, results[{last.index}].result -> "
         f"{reply_of(last.result)!r}")


# --- 5. other targets -----------------------------------------------------------------------------
def other_targets(openai_url: str, databricks_url: str) -> None:
    step("5. The same API on other targets: 'openai' and 'databricks' (both loopback here)")
    os.environ.update(
        OPENAI_API_KEY="sk-demo-key", OPENAI_API_BASE=openai_url + "/v1",
        DATABRICKS_HOST=databricks_url, DATABRICKS_TOKEN="dapi-demo-token",
    )
    openai = get_deploy_client("openai")
    response = openai.predict(endpoint="gpt-4o-mini", inputs=QUESTION)
    show(f"get_deploy_client('openai').predict(endpoint='gpt-4o-mini') -> {reply_of(response)!r}")
    # The Databricks SDK first probes the host for metadata and logs when it falls back.
    logging.getLogger("databricks.sdk").setLevel(logging.ERROR)
    databricks = get_deploy_client("databricks")
    names = [e["name"] for e in databricks.list_endpoints()]
    show(f"get_deploy_client('databricks').list_endpoints() -> {names}")
    response = databricks.predict(endpoint="chat", inputs=QUESTION)
    show(f"get_deploy_client('databricks').predict(endpoint='chat') -> {reply_of(response)!r}")


# --- 6. quick benchmark ---------------------------------------------------------------------------
def quick_benchmark(out: str) -> None:
    step("6. A quick benchmark (sections a and b, small counts; the full run: "
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
    print("mlflow-aio demo: every call below goes to servers this process started on "
          "127.0.0.1 (no account, no network).", flush=True)
    gateway = GatewayServer(demo_endpoints(), stream_delay=0.01)
    openai = OpenAIServer(api_key="sk-demo-key")
    databricks = DatabricksServer(token="dapi-demo-token")
    with gateway.running() as url, openai.running() as openai_url, \
            databricks.running() as databricks_url:
        blocking_calls(url)
        asyncio.run(awaited_calls(url))
        stream_calls(url)
        throttled_batch(gateway, url)
        other_targets(openai_url, databricks_url)
    if args.no_bench:
        step("Done (benchmark skipped)")
    else:
        quick_benchmark(args.out)


if __name__ == "__main__":
    main()
