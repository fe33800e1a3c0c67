"""`mlflow gateway start` options: MLflow's names and defaults, the security flags with their
MLFLOW_SERVER_* variables, and what reaches ServerOptions (in-process, with `run` captured)."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from mlflow.cli import cli
from mlflow.gateway.server import serve
from tests.server.helpers import openai_endpoint


@pytest.fixture(autouse=True)
def _restore_key_resolution(monkeypatch):
    # The command turns on MLflow's $VAR/file key resolution, as MLflow's does; undo it after.
    for name in serve.RESOLVE_ENV:
        monkeypatch.delenv(name, raising=False)


def _config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"endpoints": [openai_endpoint("chat")]}))
    return str(path)


def _captured(monkeypatch):
    seen = []
    monkeypatch.setattr(serve, "run", lambda options: seen.append(options) or 0)
    return seen


def test_defaults_are_mlflows(tmp_path, monkeypatch):
    seen = _captured(monkeypatch)
    monkeypatch.delenv("MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI", raising=False)
    result = CliRunner().invoke(cli, ["gateway", "start", "--config-path", _config(tmp_path)])
    assert result.exit_code == 0, result.output
    (options,) = seen
    assert (options.host, options.port, options.workers) == ("127.0.0.1", 5000, 2)
    assert options.x_frame_options == "SAMEORIGIN" and not options.disable_security_middleware
    assert options.grace_period == 30 and options.max_body_bytes == 10 * 1024 * 1024
    assert options.rate_limits_storage_uri is None
    assert options.access_log


def test_flags_and_environment(tmp_path, monkeypatch):
    seen = _captured(monkeypatch)
    monkeypatch.setenv("MLFLOW_SERVER_CORS_ALLOWED_ORIGINS", "https://a.example,https://b.example")
    monkeypatch.setenv("MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", "true")
    monkeypatch.setenv("MLFLOW_GATEWAY_RATE_LIMITS_STORAGE_URI", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("MLFLOW_GATEWAY_CONFIG", _config(tmp_path))
    result = CliRunner().invoke(cli, [
        "gateway", "start", "--workers", "1", "--port", "8080", "--host", "0.0.0.0",
        "--allowed-hosts", "gw.example.com, 10.*", "--x-frame-options", "deny",
        "--retry-budget-seconds", "2.5", "--reload-interval", "0", "--no-access-log",
    ])
    assert result.exit_code == 0, result.output
    (options,) = seen
    assert options.config_path.endswith("config.yaml")
    assert (options.host, options.port, options.workers) == ("0.0.0.0", 8080, 1)
    assert options.allowed_hosts == ("gw.example.com", "10.*")
    assert options.cors_allowed_origins == ("https://a.example", "https://b.example")
    assert options.x_frame_options == "DENY" and options.disable_security_middleware
    assert options.rate_limits_storage_uri == "redis://127.0.0.1:6379/0"
    assert options.retry_budget_seconds == 2.5 and options.reload_interval == 0
    assert not options.access_log


def test_bad_input_is_refused(tmp_path, monkeypatch):
    _captured(monkeypatch)
    monkeypatch.delenv("MLFLOW_GATEWAY_CONFIG", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["gateway", "start"])
    assert result.exit_code == 2 and "Missing option '--config-path'" in result.output
    result = runner.invoke(cli, ["gateway", "start", "--config-path", str(tmp_path / "no.yaml")])
    assert result.exit_code == 2 and "does not exist" in result.output
    config = _config(tmp_path)
    for flag, value in [("--grace-period", "nan"), ("--retry-budget-seconds", "-1"),
                        ("--workers", "0")]:
        result = runner.invoke(cli, ["gateway", "start", "--config-path", config, flag, value])
        assert result.exit_code == 2 and flag in result.output, (flag, result.output)
