import pytest

from mlflow.deployments import PredictionsResponse
from mlflow.deployments.utils import (
    PagedList,
    get_deployments_target,
    join_paths,
    parse_target_uri,
    resolve_endpoint_url,
    set_deployments_target,
)
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException


def test_set_deployments_target_accepts_databricks_and_uris():
    set_deployments_target("databricks")
    assert get_deployments_target() == "databricks"
    set_deployments_target("http://localhost")
    assert get_deployments_target() == "http://localhost"


@pytest.mark.parametrize("target", ["localhost", "http://", "", "/path/only", None, 5])
def test_set_deployments_target_rejects_invalid(target):
    with pytest.raises(
        MlflowException, match="The target provided is not a valid uri or 'databricks'"
    ) as info:
        set_deployments_target(target)
    assert info.value.error_code == INVALID_PARAMETER_VALUE


def test_get_deployments_target_unset_raises_mlflow_message():
    with pytest.raises(MlflowException, match="No deployments target has been set") as info:
        get_deployments_target()
    assert "MLFLOW_DEPLOYMENTS_TARGET" in info.value.message
    assert "set_deployments_target()" in info.value.message


def test_get_deployments_target_prefers_set_value_over_env(monkeypatch):
    monkeypatch.setenv("MLFLOW_DEPLOYMENTS_TARGET", "http://from-env:5000")
    assert get_deployments_target() == "http://from-env:5000"
    set_deployments_target("http://set:5000")
    assert get_deployments_target() == "http://set:5000"


@pytest.mark.parametrize(
    ("uri", "target"),
    [
        ("databricks", "databricks"),
        ("databricks://profile", "databricks"),
        ("http://127.0.0.1:5000", "http"),
        ("https://gateway.example.com", "https"),
        ("faketarget:/suffix", "faketarget"),
        ("openai", "openai"),
    ],
)
def test_parse_target_uri(uri, target):
    assert parse_target_uri(uri) == target


def test_parse_target_uri_rejects_empty():
    with pytest.raises(MlflowException, match="Not a proper deployment URI"):
        parse_target_uri("")


def test_resolve_endpoint_url_and_join_paths():
    assert (
        resolve_endpoint_url("http://h:5000", "/gateway/chat/invocations")
        == "http://h:5000/gateway/chat/invocations"
    )
    assert resolve_endpoint_url("http://h:5000/", "https://x/y") == "https://x/y"
    assert resolve_endpoint_url("http://h/prefix/", "/a") == "http://h/prefix/a"
    assert join_paths("/endpoints/", "chat", "/invocations") == "/endpoints/chat/invocations"


def test_paged_list_keeps_items_and_token():
    page = PagedList([1, 2], "tok")
    assert page == [1, 2] and page.token == "tok"


def test_predictions_response_json_round_trip(tmp_path):
    response = PredictionsResponse({"predictions": [1, 2]})
    assert PredictionsResponse.from_json(response.to_json()) == response
    path = tmp_path / "out.json"
    assert response.to_json(str(path)) is None
    assert PredictionsResponse.from_json(path.read_text()) == {"predictions": [1, 2]}
    with pytest.raises(MlflowException, match="must be a dictionary containing a 'predictions'"):
        PredictionsResponse.from_json('{"other": 1}')
    with pytest.raises(MlflowException, match="not valid JSON"):
        PredictionsResponse.from_json("{")
    with pytest.raises(MlflowException, match="Unrecognized predictions format"):
        response.get_predictions("csv")
