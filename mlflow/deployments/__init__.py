"""
The deployments API: one client per target, found through plugins.

.. code-block:: python

    from mlflow.deployments import get_deploy_client

    client = get_deploy_client("http://127.0.0.1:5000")  # an MLflow AI gateway
    client.predict(endpoint="chat", inputs={"messages": [{"role": "user", "content": "Hi"}]})

Built-in targets: ``http``/``https`` (MLflow AI gateway), ``databricks`` (model serving) and
``openai``. Other targets come from plugins registered under the ``mlflow.deployments``
entry-point group. Every client method has an awaitable twin (``apredict``, ``alist_endpoints``,
``apredict_stream``, ...).
"""

from __future__ import annotations

import json

from mlflow.deployments.base import BaseDeploymentClient
from mlflow.deployments.batch import BatchResult
from mlflow.deployments.databricks import DatabricksDeploymentClient, DatabricksEndpoint
from mlflow.deployments.interface import get_deploy_client, run_local
from mlflow.deployments.mlflow import MlflowDeploymentClient
from mlflow.deployments.openai import OpenAIDeploymentClient
from mlflow.deployments.utils import get_deployments_target, set_deployments_target
from mlflow.exceptions import INVALID_PARAMETER_VALUE, MlflowException


class PredictionsResponse(dict):
    """
    The predictions and metadata returned by a scoring request, such as a request to the
    ``/invocations`` endpoint of an MLflow model server.
    """

    def get_predictions(self, predictions_format="dataframe", dtype=None):
        """The predictions as a ``"dataframe"`` (pandas) or an ``"ndarray"`` (numpy)."""
        if predictions_format == "dataframe":
            import pandas as pd

            predictions = self["predictions"]
            if isinstance(predictions, str):
                return pd.DataFrame(data=[predictions])
            if isinstance(predictions, dict) and not any(
                isinstance(p, list | tuple) or getattr(p, "ndim", 0) == 1
                for p in predictions.values()
            ):
                return pd.DataFrame(data=predictions, index=[0])
            return pd.DataFrame(data=predictions)
        if predictions_format == "ndarray":
            import numpy as np

            return np.array(self["predictions"], dtype)
        raise MlflowException(
            f"Unrecognized predictions format: '{predictions_format}'. "
            "Use 'dataframe' or 'ndarray'.",
            INVALID_PARAMETER_VALUE,
        )

    def to_json(self, path=None):
        """The JSON text of the response, or write it to ``path`` and return None."""
        if path is not None:
            with open(path, "w") as f:
                json.dump(dict(self), f)
            return None
        return json.dumps(dict(self))

    @classmethod
    def from_json(cls, json_str):
        try:
            parsed_response = json.loads(json_str)
        except Exception as e:
            raise MlflowException("Predictions response contents are not valid JSON") from e
        if not isinstance(parsed_response, dict) or "predictions" not in parsed_response:
            raise MlflowException(
                "Invalid response. Predictions response contents must be a dictionary "
                f"containing a 'predictions' field. Instead, received: {parsed_response}"
            )
        return PredictionsResponse(parsed_response)


__all__ = [
    "get_deploy_client",
    "run_local",
    "BaseDeploymentClient",
    "BatchResult",
    "DatabricksDeploymentClient",
    "OpenAIDeploymentClient",
    "DatabricksEndpoint",
    "MlflowDeploymentClient",
    "PredictionsResponse",
    "get_deployments_target",
    "set_deployments_target",
]
