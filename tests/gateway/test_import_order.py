"""Issue 11: no import cycles between the gateway config and the deployments server config, nor
between the legacy gateway client and its fluent API. Each module is imported first, alone, in a
fresh interpreter; a cycle shows as an ImportError or a partially initialised module."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = [
    "mlflow.gateway.config",
    "mlflow.deployments.server.config",
    "mlflow.gateway.client",
    "mlflow.gateway.fluent",
    "mlflow.gateway.utils",
    "mlflow.gateway.constants",
    "mlflow.gateway",
    "mlflow.deployments",
]
# Edges that would close a cycle: (importer, imported).
FORBIDDEN = [
    ("mlflow.gateway.config", "mlflow.deployments.server.config"),
    ("mlflow.gateway.client", "mlflow.gateway.fluent"),
]

_PROBE = """
import ast, importlib, pathlib, sys
name = sys.argv[1]
module = importlib.import_module(name)
for importer, imported in {forbidden!r}:
    source = pathlib.Path(importlib.import_module(importer).__file__).read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == imported:
            raise SystemExit(f"{{importer}} imports {{imported}} (line {{node.lineno}})")
        if isinstance(node, ast.Import) and any(a.name == imported for a in node.names):
            raise SystemExit(f"{{importer}} imports {{imported}} (line {{node.lineno}})")
print("ok", name)
"""


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first_in_a_fresh_interpreter(module):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(forbidden=FORBIDDEN), module],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip() == f"ok {module}"


def test_endpoint_is_one_class_with_mlflows_module():
    import pickle

    from mlflow.deployments.server.config import Endpoint
    from mlflow.gateway.config import Endpoint as SameEndpoint

    assert Endpoint is SameEndpoint
    assert Endpoint.__module__ == "mlflow.deployments.server.config"
    endpoint = Endpoint(name="chat", endpoint_type="llm/v1/chat",
                        model={"name": "m", "provider": "openai"},
                        endpoint_url="/gateway/chat/invocations", limit=None)
    assert pickle.loads(pickle.dumps(endpoint)) == endpoint
