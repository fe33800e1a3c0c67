"""Target ``faketarget``: a plugin written the MLflow way, with blocking methods only.

The awaitable twins (``apredict``, ``alist_deployments``, ...) come from ``BaseDeploymentClient``
and run these methods in worker threads; ``calls`` records each call and the thread it ran on.
"""

import os
import threading
import time

from mlflow.deployments import BaseDeploymentClient

f_deployment_name = "fake_deployment_name"
f_endpoint_name = "fake_endpoint_name"

# (method name, thread name) of every call, for the tests to check where the code ran.
calls = []
_calls_lock = threading.Lock()


def _record(method):
    with _calls_lock:
        calls.append((method, threading.current_thread().name))


class PluginDeploymentClient(BaseDeploymentClient):
    def create_deployment(self, name, model_uri, flavor=None, config=None, endpoint=None):
        _record("create_deployment")
        if config and config.get("raiseError") == "True":
            raise RuntimeError("Error requested")
        return {"name": f_deployment_name, "flavor": flavor}

    def delete_deployment(self, name, config=None, endpoint=None):
        _record("delete_deployment")
        if config and config.get("raiseError") == "True":
            raise RuntimeError("Error requested")
        return None

    def update_deployment(self, name, model_uri=None, flavor=None, config=None, endpoint=None):
        _record("update_deployment")
        return {"flavor": flavor}

    def list_deployments(self, endpoint=None):
        _record("list_deployments")
        if os.environ.get("raiseError") == "True":  # noqa: SIM112 (MLflow test name)
            raise RuntimeError("Error requested")
        return [{"name": f_deployment_name}]

    def get_deployment(self, name, endpoint=None):
        _record("get_deployment")
        return {"key1": "val1", "key2": "val2"}

    def predict(self, deployment_name=None, df=None, endpoint=None):
        _record("predict")
        delay = float(os.environ.get("FAKETARGET_PREDICT_DELAY", "0"))
        if delay:
            time.sleep(delay)
        return "1"

    def predict_stream(self, deployment_name=None, inputs=None, endpoint=None):
        _record("predict_stream")
        for i in range(int((inputs or {}).get("chunks", 3))):
            yield {"index": i, "thread": threading.current_thread().name}

    def explain(self, deployment_name=None, df=None, endpoint=None):
        _record("explain")
        return "1"

    def create_endpoint(self, name, config=None):
        _record("create_endpoint")
        if config and config.get("raiseError") == "True":
            raise RuntimeError("Error requested")
        return {"name": f_endpoint_name}

    def update_endpoint(self, endpoint, config=None):
        _record("update_endpoint")
        return None

    def delete_endpoint(self, endpoint):
        _record("delete_endpoint")
        return None

    def list_endpoints(self):
        _record("list_endpoints")
        return [{"name": f_endpoint_name}]

    def get_endpoint(self, endpoint):
        _record("get_endpoint")
        return {"name": f_endpoint_name}


def run_local(name, model_uri, flavor=None, config=None):
    print(
        f"Deployed locally at the key {name} using the model from {model_uri}. "
        f"It's flavor is {flavor} and config is {config}"
    )


def target_help():
    return "Target help is called"
