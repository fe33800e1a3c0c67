import pytest


@pytest.fixture(autouse=True)
def resolve_keys_from_env_and_files(monkeypatch):
    """Pin MLflow's key-resolution switches on, whatever the environment running the tests."""
    monkeypatch.setenv("MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_ENV", "true")
    monkeypatch.setenv("MLFLOW_GATEWAY_RESOLVE_API_KEY_FROM_FILE", "true")
