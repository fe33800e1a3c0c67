"""``mlflow deployments ...`` through click's runner, against the loopback gateway and the test
plugin."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mlflow.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["deployments", *args])


def test_list_and_get_endpoints_print_json(gateway_server):
    result = run("list-endpoints", "-t", gateway_server.base_url)
    assert result.exit_code == 0, result.output
    assert [e["name"] for e in json.loads(result.output)][:2] == ["chat", "completions"]
    result = run("get-endpoint", "--endpoint", "limited", "--target", gateway_server.base_url)
    assert json.loads(result.output)["limit"] == {
        "calls": 2,
        "key": None,
        "renewal_period": "minute",
    }


def test_target_defaults_to_environment(gateway_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_DEPLOYMENTS_TARGET", gateway_server.base_url)
    result = run("get-endpoint", "--endpoint", "chat")
    assert result.exit_code == 0 and json.loads(result.output)["name"] == "chat"


def test_predict_reads_input_and_writes_output(gateway_server, tmp_path):
    source, target = tmp_path / "in.json", tmp_path / "out.json"
    source.write_text(json.dumps({"prompt": "hello"}))
    result = run(
        "predict", "--endpoint", "completions", "-I", str(source), "-t", gateway_server.base_url
    )
    assert json.loads(result.output)["choices"][0]["text"] == "Echo: hello"
    result = run(
        "predict",
        "--endpoint",
        "completions",
        "-I",
        str(source),
        "-O",
        str(target),
        "-t",
        gateway_server.base_url,
    )
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(target.read_text())["object"] == "text_completion"


def test_errors_are_one_line_without_traceback(gateway_server, tmp_path):
    result = run("get-endpoint", "--endpoint", "nope", "-t", gateway_server.base_url)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: HTTPError: 404")
    assert "Traceback" not in result.output
    result = run("list-endpoints", "-t", "no_such_target")
    assert result.exit_code == 1 and "Installed targets" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = run("create-endpoint", "--endpoint", "x", "-t", gateway_server.base_url)
    assert result.exit_code == 1 and "not supported" in result.output
    bad_input = tmp_path / "bad.json"
    bad_input.write_text("{")
    result = run("predict", "--endpoint", "chat", "-I", str(bad_input), "-t", "faketarget")
    assert result.exit_code == 1 and "not valid JSON" in result.output


def test_no_target_at_all():
    result = run("list-endpoints")
    assert result.exit_code == 1 and "No deployments target has been set" in result.output


def test_predict_needs_exactly_one_of_name_or_endpoint(tmp_path):
    source = tmp_path / "in.json"
    source.write_text("{}")
    for extra in ([], ["--name", "a", "--endpoint", "b"]):
        result = run("predict", "-t", "faketarget", "-I", str(source), *extra)
        assert result.exit_code == 2
        assert "Must specify exactly one of --name or --endpoint" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["create", "--name", "d", "-m", "runs:/1/m", "-f", "pyfunc", "-C", "a=b=c"],
            {"name": "fake_deployment_name", "flavor": "pyfunc"},
        ),
        (["update", "--name", "d", "-f", "pyfunc"], {"flavor": "pyfunc"}),
        (["delete", "--name", "d"], {"name": "d", "deleted": True}),
        (["list"], [{"name": "fake_deployment_name"}]),
        (["get", "--name", "d"], {"key1": "val1", "key2": "val2"}),
        (["create-endpoint", "--endpoint", "e"], {"name": "fake_endpoint_name"}),
        (["update-endpoint", "--endpoint", "e"], {"name": "e", "updated": True}),
        (["delete-endpoint", "--endpoint", "e"], {"name": "e", "deleted": True}),
        (["get-endpoint", "--endpoint", "e"], {"name": "fake_endpoint_name"}),
        (["list-endpoints"], [{"name": "fake_endpoint_name"}]),
    ],
)
def test_plugin_commands_with_output_json(args, expected):
    pytest.importorskip("mlflow_test_plugin")
    result = run(*args, "-t", "faketarget", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == expected


# MLflow 3.17.2's own CLI, run on the same plugin (tests/plugins/deploy_plugin): the exact output.
# (Its create-endpoint crashes with a TypeError; the sentence is the one its code prints.)
@pytest.mark.parametrize(
    ("args", "mlflow_output"),
    [
        (
            ["create", "--name", "d", "-m", "runs:/1/m", "-f", "pyfunc", "-C", "a=b=c"],
            "\npyfunc deployment fake_deployment_name is created\n",
        ),
        (
            ["update", "--name", "d", "-f", "pyfunc"],
            "Deployment d is updated (with flavor pyfunc)\n",
        ),
        (["delete", "--name", "d"], "Deployment d is deleted\n"),
        (["list"], "List of all deployments:\n[{'name': 'fake_deployment_name'}]\n"),
        (["get", "--name", "d"], "key1: val1\nkey2: val2\n\n\n"),
        (["create-endpoint", "--endpoint", "e"], "\nEndpoint fake_endpoint_name is created\n"),
        (["update-endpoint", "--endpoint", "e"], "\nEndpoint e is updated\n"),
        (["delete-endpoint", "--endpoint", "e"], "\nEndpoint e is deleted\n"),
        (["get-endpoint", "--endpoint", "e"], "name: fake_endpoint_name\n\n\n"),
        (
            ["list-endpoints", "--output", "text"],
            "List of all endpoints:\n[{'name': 'fake_endpoint_name'}]\n",
        ),
    ],
)
def test_plugin_commands_print_mlflows_text(args, mlflow_output):
    pytest.importorskip("mlflow_test_plugin")
    result = run(*args, "-t", "faketarget")
    assert result.exit_code == 0, result.output
    assert result.output == mlflow_output


def test_help_texts_have_no_rst_backticks():
    from mlflow.deployments.cli import commands

    names = ["", *commands.commands]
    for name in names:
        result = CliRunner().invoke(cli, ["deployments", *([name] if name else []), "--help"])
        assert result.exit_code == 0, result.output
        assert "`" not in result.output, (name, result.output)


def test_help_and_config_errors():
    pytest.importorskip("mlflow_test_plugin")
    result = run("help", "-t", "faketarget")
    assert result.output.strip() == "Target help is called"
    result = run("create-endpoint", "--endpoint", "e", "-C", "novalue", "-t", "faketarget")
    assert result.exit_code == 2 and "-C key=value" in result.output
    result = run("create-endpoint", "--endpoint", "e", "-C", "a=1", "-C", "a=2", "-t", "faketarget")
    assert result.exit_code == 1 and "Repeated parameter: 'a'" in result.output
    result = run("create-endpoint", "--endpoint", "e", "-C", "raiseError=True", "-t", "faketarget")
    assert result.exit_code == 1 and result.output.strip() == "Error: RuntimeError: Error requested"


def test_version_and_group_help():
    assert CliRunner().invoke(cli, ["--version"]).exit_code == 0
    result = CliRunner().invoke(cli, ["deployments", "--help"])
    for command in ("list-endpoints", "get-endpoint", "predict", "create-endpoint", "help"):
        assert command in result.output


def test_python_dash_m_mlflow_runs_the_cli(tmp_path):
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-m", "mlflow", "deployments", "--help"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: mlflow deployments")
    assert "list-endpoints" in result.stdout
