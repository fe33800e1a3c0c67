"""``set_limit`` checks a limit against the throttle's own bounds (one definition, in
``async_core.limits``): a value it accepts is one the throttle can pace to, and a value it
refuses is named in the client's ``Invalid limit`` message, not the throttle's."""

from __future__ import annotations

import pytest

from async_core.limits.periods import MAX_PERIOD_SECONDS
from async_core.limits.window import MAX_CALLS
from mlflow.deployments import get_deploy_client
from mlflow.exceptions import MlflowException
from mlflow.gateway.config import Limit


def test_calls_above_the_throttle_bound_are_refused_by_the_client_check(recording_server):
    client = get_deploy_client(recording_server.url)
    with pytest.raises(MlflowException, match=f"Invalid limit: calls={MAX_CALLS + 1} ") as info:
        client.set_limit("chat", Limit(calls=MAX_CALLS + 1, renewal_period="second"))
    assert f"between 1 and {MAX_CALLS}" in str(info.value)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    client.set_limit("chat", Limit(calls=MAX_CALLS, renewal_period="second"))  # the bound itself
    client.clear_limit("chat")
    assert recording_server.attempts == []


def test_period_bound_is_the_throttles(recording_server):
    client = get_deploy_client(recording_server.url)
    with pytest.raises(MlflowException, match="Invalid limit: renewal_period"):
        client.set_limit("chat", {"calls": 1, "renewal_period": MAX_PERIOD_SECONDS + 1})
    client.set_limit("chat", {"calls": 1, "renewal_period": MAX_PERIOD_SECONDS})
    client.clear_limit("chat")
