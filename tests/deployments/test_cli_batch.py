"""``mlflow deployments predict-batch``: JSON lines in, one line per input out, resumable."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlflow.cli import cli
from mlflow.testing import GatewayEndpoint, GatewayServer

ROOT = Path(__file__).resolve().parents[2]
INVOCATIONS = "/endpoints/chat/invocations"


def run(*args: str):
    return CliRunner().invoke(cli, ["deployments", "predict-batch", *args])


def chat(i: int) -> dict:
    return {"messages": [{"role": "user", "content": f"q{i}"}]}


def write_inputs(path: Path, inputs: list) -> None:
    path.write_text("".join(json.dumps(x) + "\n" for x in inputs))


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_input_gets_one_line_with_its_result_or_error(gateway_server, tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    # A blank line is skipped: indices count inputs, not lines. Input 2 has the wrong shape.
    source.write_text(
        json.dumps(chat(0))
        + "\n\n"
        + json.dumps(chat(1))
        + "\n"
        + json.dumps({"prompt": "wrong"})
        + "\n"
        + json.dumps(chat(3))
        + "\n"
    )
    result = run(
        "-t",
        gateway_server.base_url,
        "--endpoint",
        "chat",
        "-I",
        str(source),
        "-O",
        str(out),
        "--concurrency",
        "2",
    )
    assert result.exit_code == 1  # an input failed
    assert "1 of 4 inputs failed" in result.output and "Traceback" not in result.output
    by_index = {r["index"]: r for r in records(out)}
    assert sorted(by_index) == [0, 1, 2, 3] and len(records(out)) == 4
    assert by_index[3]["result"]["choices"][0]["message"]["content"] == "Echo: q3"
    assert by_index[2]["error"]["status_code"] == 422
    assert by_index[2]["error"]["type"] == "HTTPError"
    assert "result" not in by_index[2]


def test_a_rerun_skips_what_is_done_and_drops_a_cut_short_last_line(gateway_server, tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(i) for i in range(6)])
    out.write_text(
        json.dumps({"index": 4, "result": {"earlier": True}})
        + "\n"
        + json.dumps({"index": 1, "result": {"earlier": True}})
        + "\n"
        + '{"index": 2, "resu'  # the kill cut this one short
    )
    result = run(
        "-t", gateway_server.base_url, "--endpoint", "chat", "-I", str(source), "-O", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "cut-short last line" in result.output
    assert "4 predicted now, 2 already in" in result.output
    lines = records(out)
    assert Counter(r["index"] for r in lines) == Counter(range(6))
    assert [r["index"] for r in lines[:2]] == [4, 1]  # the earlier results were kept
    sent = [r.json()["messages"][0]["content"] for r in gateway_server.requests_to(INVOCATIONS)]
    assert sorted(sent) == ["q0", "q2", "q3", "q5"]
    # Everything done: a third run sends nothing.
    result = run(
        "-t", gateway_server.base_url, "--endpoint", "chat", "-I", str(source), "-O", str(out)
    )
    assert result.exit_code == 0 and "0 predicted now, 6 already in" in result.output
    assert len(gateway_server.requests_to(INVOCATIONS)) == 4


def test_retry_errors_runs_failed_inputs_again(gateway_server, tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(i) for i in range(3)])
    gateway_server.inject(504, times=1, path=INVOCATIONS)
    args = [
        "-t",
        gateway_server.base_url,
        "--endpoint",
        "chat",
        "-I",
        str(source),
        "-O",
        str(out),
        "--concurrency",
        "1",
    ]
    assert run(*args).exit_code == 1
    assert [r["index"] for r in records(out) if "error" in r] == [0]
    assert run(*args).exit_code == 1  # a plain rerun keeps the error
    result = run(*args, "--retry-errors")
    assert result.exit_code == 0, result.output
    lines = records(out)
    assert Counter(r["index"] for r in lines) == Counter(range(3))
    assert all("result" in r for r in lines)


def test_bad_input_fails_before_anything_is_sent(gateway_server, tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps(chat(0)) + "\n{not json\n")
    result = run(
        "-t", gateway_server.base_url, "--endpoint", "chat", "-I", str(source), "-O", str(out)
    )
    assert result.exit_code == 1 and "Line 2 of the input file" in result.output
    assert not out.exists() and gateway_server.requests_to(INVOCATIONS) == []


def test_an_output_of_another_input_file_is_refused(gateway_server, tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(0)])
    out.write_text(json.dumps({"index": 5, "result": {}}) + "\n")
    result = run(
        "-t", gateway_server.base_url, "--endpoint", "chat", "-I", str(source), "-O", str(out)
    )
    assert result.exit_code == 1 and "output of another input file" in result.output


@pytest.mark.parametrize("names", [(), ("--endpoint", "chat", "--name", "d")])
def test_exactly_one_of_endpoint_and_name(tmp_path, names):
    source = tmp_path / "in.jsonl"
    write_inputs(source, [chat(0)])
    result = run("-t", "http://127.0.0.1:1", *names, "-I", str(source), "-O", str(tmp_path / "o"))
    assert result.exit_code == 2 and "exactly one of --name or --endpoint" in result.output


@pytest.fixture
def paced_gateway():
    """A gateway whose chat endpoint advertises (and enforces) 10 calls per second."""
    server = GatewayServer(
        [GatewayEndpoint("chat", "llm/v1/chat", limit={"calls": 10, "renewal_period": "second"})]
    )
    server.start_in_thread()
    yield server
    server.stop_thread()


def test_a_killed_run_resumes_without_repeating_or_losing_work(paced_gateway, tmp_path):
    n = 40  # four windows of 10: the run takes about 3 s
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(i) for i in range(n)])
    command = [
        sys.executable,
        "-m",
        "mlflow.cli",
        "deployments",
        "predict-batch",
        "-t",
        paced_gateway.base_url,
        "--endpoint",
        "chat",
        "-I",
        str(source),
        "-O",
        str(out),
        "--concurrency",
        "4",
    ]
    victim = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and victim.poll() is None:
            if out.exists() and out.read_text().count("\n") >= 12:
                break
            time.sleep(0.02)
        assert victim.poll() is None, "the run ended before it could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(10)
        victim.stdout.close()
        victim.stderr.close()
    assert victim.returncode == -signal.SIGKILL
    with open(out, "a") as f:
        f.write('{"index": 39, "resul')  # as if the kill had cut a line short
    done_before = {r["index"] for r in records_lenient(out)}
    assert 12 <= len(done_before) < n and 39 not in done_before
    sent_before = len(paced_gateway.requests_to(INVOCATIONS))
    # A new process knows nothing of the old one's starts: let the server's window pass.
    time.sleep(1.1)

    rerun = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr
    lines = records(out)
    assert Counter(r["index"] for r in lines) == Counter(range(n))  # each exactly once
    assert all("result" in r for r in lines)
    # The rerun sent only what was not done.
    assert len(paced_gateway.requests_to(INVOCATIONS)) - sent_before == n - len(done_before)
    assert paced_gateway.rejected == 0


def records_lenient(path: Path) -> list[dict]:
    """The complete lines only (the last may be cut short)."""
    text = path.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line]


# --- issue 12 item 6: resume belongs to one run; a missing endpoint fails once; Ctrl-C -------
def _args(server, source, out, endpoint="chat"):
    return ["-t", server.base_url, "--endpoint", endpoint, "-I", str(source), "-O", str(out)]


def test_each_line_records_the_input_hash_and_the_endpoint(gateway_server, tmp_path):
    from mlflow.deployments._batch_files import input_hash

    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(0), chat(1)])
    assert run(*_args(gateway_server, source, out)).exit_code == 0
    for record in records(out):
        assert record["input_sha256"] == input_hash(chat(record["index"]))
        assert record["endpoint"] == "chat"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("input", "made from a different input"),
        ("endpoint", "predicted with 'chat', not 'completions'"),
    ],
)
def test_a_resume_against_other_inputs_or_endpoint_is_refused(
    gateway_server, tmp_path, change, message
):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(0), chat(1), chat(2)])
    assert run(*_args(gateway_server, source, out)).exit_code == 0
    sent = len(gateway_server.requests_to("/endpoints/*/invocations"))
    before = out.read_text()
    if change == "input":
        write_inputs(source, [chat(0), chat(9), chat(2)])  # same count, one input differs
        result = run(*_args(gateway_server, source, out))
    else:
        result = run(*_args(gateway_server, source, out, endpoint="completions"))
    assert result.exit_code == 1 and message in result.output
    assert "new output path" in result.output
    assert out.read_text() == before  # untouched
    assert len(gateway_server.requests_to("/endpoints/*/invocations")) == sent  # nothing sent


def test_a_missing_endpoint_is_checked_once_up_front(gateway_server, tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(i) for i in range(5)])
    result = run(*_args(gateway_server, source, out, endpoint="nope"))
    assert result.exit_code == 1
    assert "Endpoint 'nope' was not found at the target (404): no input was sent." in (
        result.output
    )
    assert gateway_server.requests_to("/endpoints/*/invocations") == []
    assert len(gateway_server.requests_to("/api/2.0/endpoints/nope")) == 1


def test_the_progress_bar_of_a_resumed_run_starts_at_the_number_done(
    gateway_server, tmp_path, monkeypatch
):
    pytest.importorskip("tqdm")
    import mlflow.deployments.cli as deployments_cli

    bars = []
    real_open_bar = deployments_cli._open_bar

    def recording_open_bar(total, progress, desc, initial=0):
        bars.append((total, initial))
        return real_open_bar(total, progress, desc, initial=initial)

    monkeypatch.setattr(deployments_cli, "_open_bar", recording_open_bar)
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(i) for i in range(5)])
    out.write_text("".join(json.dumps({"index": i, "result": {}}) + "\n" for i in (0, 3)))
    assert run(*_args(gateway_server, source, out), "--progress").exit_code == 0
    assert bars == [(5, 2)]


def test_ctrl_c_says_how_to_resume(gateway_server, tmp_path, monkeypatch):
    from mlflow.deployments import MlflowDeploymentClient
    from mlflow.deployments.batch import BatchResult

    def interrupted(self, endpoint, inputs, concurrency, **kwargs):
        kwargs["on_result"](BatchResult(0, {"ok": True}))  # one input finished, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(MlflowDeploymentClient, "predict_batch", interrupted)
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_inputs(source, [chat(i) for i in range(3)])
    result = CliRunner().invoke(
        cli, ["deployments", "predict-batch", *_args(gateway_server, source, out)]
    )
    assert result.exit_code == 130
    assert (
        f"Interrupted: 1 of 3 inputs are done in {out}. Run the same command again to resume "
        "where it stopped."
    ) in result.output
