"""The benchmark harness: mlflow-aio beside bare aiohttp (and requests, and optionally MLflow
itself), measured in the same run against loopback servers it starts itself.

    python -m benchmarks.run [--quick] [--sections a,b,c,d,e] [--mlflow-venv PATH] [--out DIR]
    tox -e bench

Sections:
  a  sequential: blocking http_request vs requests.Session vs bare aiohttp (and the async twin),
     microseconds per request;
  b  requests in flight: the async twin ahttp_request vs bare aiohttp at 1, 16, 64, 256, req/s;
  c  the retry path: every request answered 503 once, attempts/s vs bare aiohttp retrying by hand;
  d  the throttle: a burst of 200 predictions through get_deploy_client against a gateway that
     advertises and enforces 50 calls/second in fixed windows: 429s and makespan / minimum;
  e  memory: RSS growth over 100,000 requests through the async twin (20,000 blocking), each in
     a fresh process.

The upstreams run in their own processes, so the client under test has a core to itself on a
2-core machine. Rounds are interleaved (every client once per round, in a rotating order) and
each figure is reported as best-of-N and median; ratios are against bare aiohttp in the same
run. Writes bench.md, bench.json and throughput.png to --out (default benchmarks/results/).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks import bench_http, bench_retry, bench_throttle
from benchmarks.common import (
    DEFAULT_TIME_CAP,
    ROOT,
    Samples,
    describe_machine,
    machine,
    paired_ratio,
    upstream,
)
from benchmarks.gateway_process import gateway_process
from benchmarks.peer import check_peer, peer_python, run_peer
from benchmarks.report import bars, render_markdown, write_chart

SECTIONS = "abcde"
BARE = "bare aiohttp"
TWIN = "async twin (ahttp_request)"
PEER = "MLflow http_request"
PEER_THREADS = "MLflow http_request (threads)"


# --- configuration --------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds: small counts, 2 rounds, memory and throttle shortened")
    parser.add_argument("--sections", default=SECTIONS,
                        help="which sections to run, e.g. 'a,b' (default: all of abcde)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; quick 2)")
    parser.add_argument("--requests", type=int,
                        help="requests per client per round in a and c (default 2000; quick 200); "
                             "b sends twice as many")
    parser.add_argument("--concurrency", default="1,16,64,256",
                        help="requests in flight for section b (default 1,16,64,256)")
    parser.add_argument("--memory-requests", type=int,
                        help="requests through the async twin in e (default 100000; quick 3000)")
    parser.add_argument("--memory-blocking-requests", type=int,
                        help="requests through the blocking call in e (default 20000; quick 1000)")
    parser.add_argument("--burst", type=int, default=200, help="predictions in the burst of d")
    parser.add_argument("--throttle-rounds", type=int, help="bursts in d (default 3; quick 1)")
    parser.add_argument("--throttle-concurrency", type=int, default=64,
                        help="the batch's concurrency cap in d (default 64)")
    parser.add_argument("--throttle-via", choices=("auto", "apredict"), default="auto",
                        help="d: the batch API (auto; skipped until it exists) or concurrent "
                             "apredict calls")
    parser.add_argument("--mlflow-venv", metavar="PATH",
                        help="a virtualenv holding the real mlflow: run it as a peer")
    parser.add_argument("--time-cap", type=float, default=DEFAULT_TIME_CAP,
                        help="seconds after which any one timed loop stops early (default 30)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"),
                        help="output directory (default benchmarks/results/)")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG")
    args = parser.parse_args(argv)
    quick = args.quick
    args.rounds = args.rounds or (2 if quick else 5)
    args.requests = args.requests or (200 if quick else 2000)
    args.memory_requests = args.memory_requests or (3000 if quick else 100_000)
    args.memory_blocking_requests = args.memory_blocking_requests or (1000 if quick else 20_000)
    args.throttle_rounds = args.throttle_rounds or (1 if quick else 3)
    args.sections = "".join(s for s in args.sections.lower() if s in SECTIONS)
    args.levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not args.sections:
        parser.error(f"--sections: choose among {','.join(SECTIONS)}")
    if args.rounds < 1 or args.requests < 1 or any(c < 1 for c in args.levels):
        parser.error("--rounds, --requests and --concurrency must be positive")
    return args


def say(text: str) -> None:
    print(text, flush=True)


def rotated(names: Sequence[str], round_index: int) -> list[str]:
    """Each round starts with a different client, so no client always runs first (or last)."""
    k = round_index % len(names)
    return [*names[k:], *names[:k]]


# --- (a) sequential -------------------------------------------------------------------------------
def section_sequential(args, peer: Path | None) -> dict[str, Any]:
    n, cap = args.requests, args.time_cap
    samples = {
        name: Samples("us/request", higher_is_better=False) for name in bench_http.SEQUENTIAL
    }
    peer_samples = Samples("us/request", higher_is_better=False)
    with upstream() as url:
        for r in range(args.rounds):
            gc.collect()
            for name, run in bench_http.sequential_round(url, n, cap, first=r).items():
                samples[name].add(run.us_per_call)
            if peer is not None:
                job = {"url": url, "requests": max(n // 2, 1), "time_cap": cap}
                out = run_peer(peer, job, cap * 4 + 60)
                if "sequential" in out:
                    seq = out["sequential"]
                    peer_samples.add(seq["seconds"] / max(seq["count"], 1) * 1e6)
            say(f"  (a) round {r + 1}/{args.rounds}: "
                + ", ".join(f"{k} {v.values[-1]:.0f}" for k, v in samples.items()) + " us/req")
    if peer_samples.values:
        samples[PEER] = peer_samples
    base = samples[BARE]
    return {
        "requests": n,
        "rounds": args.rounds,
        "clients": {
            name: {**s.to_json(), "vs_bare": s.best / base.best,
                   "vs_bare_paired": paired_ratio(s, base)}
            for name, s in samples.items()
        },
    }


# --- (b) in flight --------------------------------------------------------------------------------
def section_in_flight(args, peer: Path | None) -> dict[str, Any]:
    n, cap, levels = args.requests * 2, args.time_cap, args.levels
    samples = {
        name: {c: Samples("req/s", higher_is_better=True) for c in levels}
        for name in bench_http.IN_FLIGHT
    }
    peer_samples = {c: Samples("req/s", higher_is_better=True) for c in levels if c > 1}
    with upstream() as url:
        for r in range(args.rounds):
            for c in levels:
                gc.collect()
                for name, run in bench_http.in_flight_round(url, n, c, cap, first=r).items():
                    samples[name][c].add(run.per_second)
            if peer is not None and peer_samples:
                # A quarter of the count: at MLflow's rate that is still seconds per level.
                job = {"url": url, "requests": max(n // 4, 1), "concurrency": list(peer_samples),
                       "sequential": False, "time_cap": cap}
                out = run_peer(peer, job, cap * 4 * (len(peer_samples) + 1) + 60)
                for c, run in out.get("in_flight", {}).items():
                    peer_samples[int(c)].add(run["count"] / run["seconds"])
            say(f"  (b) round {r + 1}/{args.rounds}: "
                + "; ".join(f"{c} in flight twin/bare "
                            f"{samples[TWIN][c].values[-1] / samples[BARE][c].values[-1]:.0%}"
                            for c in levels))
    if any(s.values for s in peer_samples.values()):
        samples[PEER_THREADS] = {c: s for c, s in peer_samples.items() if s.values}
    clients: dict[str, Any] = {}
    for name, per_level in samples.items():
        clients[name] = {
            str(c): {**s.to_json(), "vs_bare": s.best / samples[BARE][c].best,
                     "vs_bare_paired": paired_ratio(s, samples[BARE][c])}
            for c, s in per_level.items()
        }
    return {"requests": n, "rounds": args.rounds, "levels": levels, "clients": clients}


# --- (c) retry ------------------------------------------------------------------------------------
def section_retry(args, peer: Path | None) -> dict[str, Any]:
    n, cap = args.requests, args.time_cap
    runs: dict[tuple[str, int], Callable[[str], bench_retry.Attempts]] = {
        (BARE, 1): lambda url: bench_retry.retry_bare(url, n, 1, cap),
        (TWIN, 1): lambda url: bench_retry.retry_twin(url, n, 1, cap),
        ("blocking http_request", 1): lambda url: bench_retry.retry_blocking(url, n, cap),
        (BARE, 64): lambda url: bench_retry.retry_bare(url, n * 2, 64, cap),
        (TWIN, 64): lambda url: bench_retry.retry_twin(url, n * 2, 64, cap),
    }
    samples = {key: Samples("attempts/s", higher_is_better=True) for key in runs}
    per_request: dict[tuple[str, int], float] = {}
    peer_samples = Samples("attempts/s", higher_is_better=True)
    with upstream("--fail-first", "503") as url:
        for r in range(args.rounds):
            for key in rotated(list(runs), r):
                gc.collect()
                result = runs[key](url)
                samples[key].add(result.per_second)
                per_request[key] = result.per_request
            if peer is not None:
                job = {"retry_url": url, "retry_requests": max(n // 2, 1), "time_cap": cap}
                out = run_peer(peer, job, cap * 4 + 60)
                if "retry_sequential" in out:
                    run = out["retry_sequential"]
                    peer_samples.add(run["attempts"] / run["seconds"])
                    per_request[(PEER, 1)] = run["attempts"] / max(run["count"], 1)
            say(f"  (c) round {r + 1}/{args.rounds}: "
                + ", ".join(f"{k[0]}@{k[1]} {s.values[-1]:.0f}" for k, s in samples.items())
                + " attempts/s")
    if peer_samples.values:
        samples[(PEER, 1)] = peer_samples
    rows = []
    for (name, c), s in samples.items():
        base = samples[(BARE, c)]
        rows.append({"client": name, "in_flight": c, **s.to_json(),
                     "vs_bare": s.best / base.best, "vs_bare_paired": paired_ratio(s, base),
                     "attempts_per_request": per_request.get((name, c))})
    return {"requests": n, "rounds": args.rounds, "rows": rows}


# --- (d) throttle ---------------------------------------------------------------------------------
def section_throttle(args, peer: Path | None) -> dict[str, Any]:
    result = bench_throttle.throttle_section(
        args.burst, args.throttle_rounds, args.throttle_concurrency, args.throttle_via
    )
    if "skipped" in result:
        say(f"  (d) SKIPPED: {result['skipped']}")
    else:
        say(f"  (d) {result['rejections_max']} rejections (worst burst), makespan/minimum "
            f"best {result['makespan_over_minimum_best']:.3f}, worst "
            f"{result['makespan_over_minimum_worst']:.3f}")
    if peer is not None:
        with gateway_process(bench_throttle.CALLS, bench_throttle.PERIOD_NAME) as gateway:
            out = run_peer(peer, {"burst_url": gateway.url, "burst": args.burst,
                                  "burst_threads": 64, "burst_cap": 90}, 180)
            seen = gateway.stats()
        arrivals = sorted(seen["arrivals"])
        if "burst" in out:
            done = out["burst"]
            succeeded = args.burst - done["errors"]
            result["mlflow_peer"] = {
                **done,
                "succeeded": succeeded,
                "rejections": seen["rejected"],
                "attempts_seen_by_server": len(arrivals),
                "max_in_any_window": bench_throttle.max_in_any_window(arrivals),
                "wall_over_minimum": done["wall_s"] / bench_throttle.strict_minimum(args.burst),
            }
            say(f"  (d) MLflow {out.get('mlflow')}: {seen['rejected']} rejections, "
                f"{done['wall_s']:.1f} s for {succeeded}/{args.burst} predictions")
        else:
            result["mlflow_peer"] = out
    return result


# --- (e) memory -----------------------------------------------------------------------------------
def section_memory(args, peer: Path | None) -> dict[str, Any]:
    plan = [
        ("twin", args.memory_requests, 64),
        ("bare", args.memory_requests, 64),
        ("blocking", args.memory_blocking_requests, 1),
    ]
    rows = []
    cap = max(args.time_cap * 4, 120.0)
    with upstream() as url:
        for client, n, c in plan:
            cmd = [sys.executable, "-m", "benchmarks.bench_memory", "--url", url,
                   "--client", client, "--requests", str(n), "--concurrency", str(c),
                   "--time-cap", str(cap)]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                                      timeout=cap + 60)
            except subprocess.TimeoutExpired:
                rows.append({"client": client, "error": f"did not finish within {cap + 60:.0f} s"})
                continue
            lines = done.stdout.strip().splitlines()
            if done.returncode != 0 or not lines:
                rows.append({"client": client, "error": done.stderr.strip()[-500:]})
                continue
            row = json.loads(lines[-1])
            rows.append(row)
            say(f"  (e) {client}: {row['requests']} requests, RSS {row['baseline_mb']:.1f} -> "
                f"{row['final_mb']:.1f} MB (growth {row['growth_mb']:+.1f} MB)")
    return {"rows": rows}


SECTION_RUNNERS = {
    "a": ("sequential", section_sequential),
    "b": ("in_flight", section_in_flight),
    "c": ("retry", section_retry),
    "d": ("throttle", section_throttle),
    "e": ("memory", section_memory),
}


# --- main -----------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    info = machine()
    say(f"machine: {describe_machine(info)}")
    peer, why = peer_python(args.mlflow_venv)
    peer_info: dict[str, Any] = {"used": False, "reason": why}
    if peer is not None:
        version, why = check_peer(peer)
        if version is None:
            peer, peer_info = None, {"used": False, "reason": why}
        else:
            peer_info = {"used": True, "mlflow": version, "python": str(peer)}
    say(f"MLflow peer: {'MLflow ' + peer_info['mlflow'] if peer else 'skipped (' + why + ')'}")
    results: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": info,
        "config": {
            "quick": args.quick, "rounds": args.rounds, "requests": args.requests,
            "levels": args.levels, "memory_requests": args.memory_requests,
            "memory_blocking_requests": args.memory_blocking_requests, "burst": args.burst,
            "throttle_rounds": args.throttle_rounds, "time_cap_s": args.time_cap,
            "sections": args.sections,
        },
        "mlflow_peer": peer_info,
    }
    for letter in args.sections:
        key, runner = SECTION_RUNNERS[letter]
        say(f"({letter}) {key.replace('_', ' ')} ...")
        start = time.perf_counter()
        results[key] = runner(args, peer)
        results[key]["section_seconds"] = time.perf_counter() - start
    results["bars"] = bars(results)
    return results


def write_outputs(results: dict[str, Any], out_dir: Path, chart: bool) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "bench.md", "json": out_dir / "bench.json"}
    paths["json"].write_text(json.dumps(results, indent=2) + "\n")
    paths["markdown"].write_text(render_markdown(results))
    if chart and "in_flight" in results:
        png = out_dir / "throughput.png"
        note = write_chart(results, png)
        if note is None:
            paths["chart"] = png
        else:
            say(f"chart skipped: {note}")
    return paths


def main(argv: Sequence[str] | None = None) -> dict[str, Path]:
    args = parse_args(argv)
    results = run(args)
    paths = write_outputs(results, Path(args.out), chart=not args.no_chart)
    say("")
    say(paths["markdown"].read_text())
    for kind, path in paths.items():
        say(f"{kind:9s} {path}")
    return paths


if __name__ == "__main__":
    main()
