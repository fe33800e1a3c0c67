"""Turn the harness's results into the bars of issue 7, a markdown table and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.common import describe_machine

BARE = "bare aiohttp"
TWIN = "async twin (ahttp_request)"
BLOCKING = "blocking http_request"


# --- the bars -------------------------------------------------------------------------------------
def bars(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each bar: what, target, the measured value as text, and passed (True/False/None = n/a)."""
    out: list[dict[str, Any]] = []
    seq = results.get("sequential", {}).get("clients", {})
    if BLOCKING in seq:
        ratio = seq[BLOCKING]["vs_bare"]
        out.append({
            "bar": "blocking http_request vs bare aiohttp, sequential",
            "target": "<= 1.5x",
            "measured": f"{ratio:.2f}x (best/best; paired median "
                        f"{seq[BLOCKING]['vs_bare_paired']:.2f}x)",
            "value": ratio,
            "passed": ratio <= 1.5,
        })
    flight = results.get("in_flight", {}).get("clients", {})
    if "64" in flight.get(TWIN, {}):
        share = flight[TWIN]["64"]["vs_bare"]
        out.append({
            "bar": "async twin vs bare aiohttp, 64 in flight",
            "target": ">= 85%",
            "measured": f"{share:.0%} (best/best; paired median "
                        f"{flight[TWIN]['64']['vs_bare_paired']:.0%})",
            "value": share,
            "passed": share >= 0.85,
        })
    memory = {r["client"]: r for r in results.get("memory", {}).get("rows", []) if "error" not in r}
    if "twin" in memory:
        row = memory["twin"]
        growth = row["growth_mb"]
        full = row["requests"] >= 100_000
        out.append({
            "bar": "RSS growth, async twin",
            "target": "< 20 MB over 100,000 requests",
            "measured": f"{growth:+.1f} MB over {row['requests']:,} requests",
            "value": growth,
            "passed": (growth < 20) if full else None,
        })
    throttle = results.get("throttle")
    if throttle is not None:
        if "skipped" in throttle:
            out.append({"bar": "throttle, burst of 200 at 50/s", "target": "0 rejections, <= 1.1x",
                        "measured": "skipped: " + throttle["skipped"], "value": None,
                        "passed": None})
        else:
            worst = throttle["makespan_over_minimum_worst"]
            rejected = throttle["rejections_max"]
            out.append({
                "bar": f"throttle, burst of {throttle['requests']} at 50/s",
                "target": "0 rejections, makespan <= 1.1x the minimum",
                "measured": f"{rejected} rejections, {worst:.3f}x the strict minimum "
                            f"({throttle['strict_minimum_s']:.0f} s; worst of "
                            f"{len(throttle['rounds'])})",
                "value": worst,
                "passed": rejected == 0 and worst <= 1.1,
            })
    return out


# --- markdown -------------------------------------------------------------------------------------
def _mark(passed: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[passed]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    cfg = results["config"]
    lines = [
        "# mlflow-aio benchmarks",
        "",
        f"Measured {results['started']} on: {describe_machine(results['machine'])}.",
        f"{cfg['rounds']} interleaved rounds; best-of-{cfg['rounds']} and median; every ratio is "
        "against bare aiohttp measured in the same run, against the same upstream process.",
    ]
    peer = results.get("mlflow_peer", {})
    if peer.get("used"):
        lines.append(f"Peer: MLflow {peer['mlflow']} from a separate virtualenv.")
    lines.append("")
    if results.get("bars"):
        lines += ["## Bars (issue 7)", ""]
        lines += _table(["bar", "target", "measured", "met"],
                        [[b["bar"], b["target"], b["measured"], _mark(b["passed"])]
                         for b in results["bars"]])
        lines.append("")
    if "sequential" in results:
        seq = results["sequential"]
        lines += [f"## (a) Sequential: microseconds per request (lower is better), "
                  f"{seq['requests']} POSTs per client per round", ""]
        lines += _table(
            ["client", "best", "median", "vs bare (best)", "vs bare (paired median)"],
            [[name, f"{c['best']:.0f}", f"{c['median']:.0f}", f"{c['vs_bare']:.2f}x",
              f"{c['vs_bare_paired']:.2f}x"] for name, c in seq["clients"].items()],
        )
        lines.append("")
    if "in_flight" in results:
        flight = results["in_flight"]
        levels = [str(c) for c in flight["levels"]]
        lines += [f"## (b) Requests in flight: requests/s, best (median) and share of bare "
                  f"aiohttp; {flight['requests']} POSTs per client per level per round", ""]
        rows = []
        for name, per_level in flight["clients"].items():
            cells = []
            for c in levels:
                s = per_level.get(c)
                cells.append("" if s is None else
                             f"{s['best']:.0f} ({s['median']:.0f}) {s['vs_bare']:.0%}")
            rows.append([name, *cells])
        lines += _table(["client", *[f"{c} in flight" for c in levels]], rows)
        lines.append("")
    if "retry" in results:
        retry = results["retry"]
        lines += ["## (c) Retry path: every request answered 503 once, then 200; attempts/s "
                  "counted by the server", ""]
        lines += _table(
            ["client", "in flight", "best", "median", "vs bare (best)", "attempts/request"],
            [[r["client"], str(r["in_flight"]), f"{r['best']:.0f}", f"{r['median']:.0f}",
              f"{r['vs_bare']:.0%}",
              "" if r["attempts_per_request"] is None else f"{r['attempts_per_request']:.2f}"]
             for r in retry["rows"]],
        )
        lines.append("")
    if "throttle" in results:
        lines += _throttle_lines(results["throttle"])
    if "memory" in results:
        lines += ["## (e) Memory: RSS (VmRSS) after warm-up and at the end, fresh process per "
                  "client", ""]
        rows = []
        for r in results["memory"]["rows"]:
            if "error" in r:
                rows.append([r["client"], "error: " + r["error"][:80], "", "", "", ""])
                continue
            rows.append([r["client"], f"{r['requests']:,}", str(r["concurrency"]),
                         f"{r['baseline_mb']:.1f}", f"{r['final_mb']:.1f}",
                         f"{r['growth_mb']:+.1f}"])
        lines += _table(["client", "requests", "in flight", "RSS after warm-up (MB)",
                         "RSS at end (MB)", "growth (MB)"], rows)
        lines.append("")
    lines += ["Reproduce: `python -m benchmarks.run` (or `tox -e bench`); see docs/performance.md.",
              ""]
    return "\n".join(lines)


def _throttle_lines(t: dict[str, Any]) -> list[str]:
    lines = ["## (d) Throttle: a burst through get_deploy_client against a gateway enforcing "
             "50 calls/second in fixed windows", ""]
    peer = t.get("mlflow_peer")
    peer_row = None
    if peer and "error" not in peer:
        peer_row = ["MLflow (64 threads)", str(peer["rejections"]),
                    f"{peer['max_in_any_window']}/50", "", "", f"{peer['wall_s']:.3f} s",
                    str(peer["errors"])]
    header = ["client", "429s", "most in any 1 s", "makespan (arrivals)",
              "makespan / strict min", "wall", "errors"]
    if "skipped" in t:
        lines += [f"Skipped: {t['skipped']}", ""]
        if peer_row is not None:
            lines += [*_table(header, [peer_row]), ""]
        return lines
    lines += [
        f"Minimum: the strict one, (ceil({t['requests']}/50) - 1) periods = "
        f"{t['strict_minimum_s']:.0f} s (first to last arrival); for reference "
        f"{t['requests']}/50 = {t['naive_minimum_s']:.0f} s. API: `{t['api']}`.",
        "",
    ]
    rows = []
    for i, b in enumerate(t["rounds"], 1):
        rows.append([f"mlflow-aio #{i}", str(b["rejections"]), f"{b['max_in_any_window']}/50",
                     f"{b['makespan_s']:.3f} s", f"{b['makespan_over_minimum']:.3f}x",
                     f"{b['wall_s']:.3f} s", f"{b['errors']}"])
    if peer_row is not None:
        rows.append(peer_row)
    return [*lines, *_table(header, rows), ""]


# --- the chart ------------------------------------------------------------------------------------
def write_chart(results: dict[str, Any], path: Path) -> str | None:
    """Throughput against concurrency; returns None, or why no chart was drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]')"
    flight = results["in_flight"]
    levels = flight["levels"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    styles = {BARE: ("tab:gray", "o"), TWIN: ("tab:blue", "s")}
    for name, per_level in flight["clients"].items():
        xs = [c for c in levels if str(c) in per_level]
        color, marker = styles.get(name, ("tab:orange", "^"))
        left.plot(xs, [per_level[str(c)]["best"] for c in xs], marker=marker, color=color,
                  label=name)
        if name != BARE:
            right.plot(xs, [per_level[str(c)]["vs_bare"] * 100 for c in xs], marker=marker,
                       color=color, label=name)
    seq = results.get("sequential", {}).get("clients", {})
    for name, color in ((BLOCKING, "tab:green"), ("requests.Session", "tab:red"),
                        ("MLflow http_request", "tab:orange")):
        if name in seq:
            left.scatter([1], [1e6 / seq[name]["best"]], color=color, zorder=3,
                         label=f"{name} (sequential)")
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xticks(levels, [str(c) for c in levels])
        axis.set_xlabel("requests in flight")
        axis.grid(True, alpha=0.3)
    left.set_ylabel("requests/s (best of rounds)")
    left.set_title("Throughput against concurrency (loopback)")
    left.set_ylim(bottom=0)
    right.axhline(85, color="tab:red", linestyle="--", linewidth=1, label="85% bar")
    right.set_ylabel("% of bare aiohttp")
    right.set_title("Share of bare aiohttp's throughput")
    right.set_ylim(0, 110)
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.suptitle(describe_machine(results["machine"]), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None
