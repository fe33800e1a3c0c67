"""The instruction-count benchmark's parsing and report (running it needs valgrind and minutes,
so it is not run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_gateway import FLOOR
from benchmarks.bench_instructions import _instructions, report


def test_a_dump_gives_its_summary_count(tmp_path: Path) -> None:
    dump = tmp_path / "cg.123.1"
    dump.write_bytes(b"# callgrind format\nversion: 1\nevents: Ir\nsummary: 1071298161\n"
                     b"totals: 1109445420\nfn=(1) main\n")
    assert _instructions(dump) == 1071298161


def test_a_file_that_is_not_a_dump_is_refused(tmp_path: Path) -> None:
    dump = tmp_path / "cg.123.1"
    dump.write_bytes(b"events: Ir\n")
    with pytest.raises(RuntimeError, match="no 'summary:' line"):
        _instructions(dump)


def test_report_gives_ratios_against_mlflow_floor_and_bare() -> None:
    text = report(
        [("mlflow-aio gateway", 1_000_000.0), (FLOOR, 500_000.0), ("MLflow gateway", 3_000_000.0)],
        [("bare aiohttp, 64 in flight", 300_000.0), ("ahttp_request, 64 in flight", 360_000.0),
         ("bare aiohttp, sequential", 400_000.0),
         ("http_request (blocking), sequential", 600_000.0)],
        1000,
    )
    assert "| mlflow-aio gateway | 1.000 M | 3.00x | 2.00x |" in text
    assert f"| {FLOOR} | 0.500 M | 6.00x | 1.00x |" in text
    assert "| ahttp_request, 64 in flight | 360.0 K | 1.20x |" in text
    assert "| http_request (blocking), sequential | 600.0 K | 1.50x |" in text


def test_report_without_mlflow_leaves_its_column_empty() -> None:
    text = report([("mlflow-aio gateway", 900_000.0), (FLOOR, 600_000.0)], [], 10)
    assert "| mlflow-aio gateway | 0.900 M | - | 1.50x |" in text
    assert "## Client" not in text
