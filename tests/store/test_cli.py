"""``mlflow gateway secrets|model-definitions|endpoints|bindings`` against a real server."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mlflow.cli import cli
from mlflow.gateway.server.app import create_app
from mlflow.gateway.server.options import ServerOptions
from tests.store.conftest import serve_in_thread

KEY = "sk-cli-test-key-0123456789abcdef"


def test_gateway_crud_commands(store, db_uri, passphrase_env):
    options = ServerOptions(backend_store_uri=db_uri, retry_budget_seconds=0)
    runner = CliRunner()
    with serve_in_thread(lambda: create_app(options)) as url:

        def run(*args, **kwargs):
            result = runner.invoke(cli, ["gateway", *args, "-t", url], **kwargs)
            assert KEY not in result.output
            return result

        created = run(
            "secrets",
            "create",
            "--name",
            "openai",
            "--provider",
            "openai",
            "--value-env",
            "OPENAI_KEY_FOR_TEST",
            env={"OPENAI_KEY_FOR_TEST": KEY},
        )
        assert created.exit_code == 0, created.output
        secret = json.loads(created.output)
        assert secret["masked_values"] == {"api_key": "sk-...cdef"}

        prompted = run("secrets", "create", "--name", "other", input=f"{KEY}\n")
        assert prompted.exit_code == 0, prompted.output

        definition = json.loads(
            run(
                "model-definitions",
                "create",
                "--name",
                "gpt",
                "--secret-id",
                secret["secret_id"],
                "--provider",
                "openai",
                "--model-name",
                "gpt-4o",
            ).output
        )
        endpoint = json.loads(
            run(
                "endpoints",
                "create",
                "--name",
                "chat",
                "--model",
                f"{definition['model_definition_id']}:2.5",
            ).output
        )
        assert endpoint["model_mappings"][0]["weight"] == 2.5
        assert (
            run(
                "endpoints",
                "set-tag",
                "--endpoint-id",
                endpoint["endpoint_id"],
                "--key",
                "team",
                "--value",
                "ml",
            ).exit_code
            == 0
        )
        listed = json.loads(run("endpoints", "list").output)
        assert [(e["name"], e["tags"]) for e in listed] == [
            ("chat", [{"key": "team", "value": "ml"}])
        ]
        bound = run(
            "bindings",
            "create",
            "--endpoint-id",
            endpoint["endpoint_id"],
            "--resource-type",
            "scorer_job",
            "--resource-id",
            "job-1",
        )
        assert bound.exit_code == 0, bound.output

        duplicate = run("endpoints", "create", "--name", "chat")
        assert duplicate.exit_code == 1
        assert "Error: RestException: RESOURCE_ALREADY_EXISTS" in duplicate.output
        bad_weight = run(
            "endpoints",
            "set-weight",
            "--mapping-id",
            endpoint["model_mappings"][0]["mapping_id"],
            "--weight",
            "-1",
        )
        assert bad_weight.exit_code == 1 and "weight must be a finite number" in bad_weight.output

        assert run("endpoints", "delete", "--endpoint-id", endpoint["endpoint_id"]).exit_code == 0
        assert json.loads(run("bindings", "list").output) == []
