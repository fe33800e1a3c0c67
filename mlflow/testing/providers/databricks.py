"""The Databricks workspace fake (:class:`mlflow.testing.DatabricksServer`) serves the
OpenAI-compatible serving API the gateway's Databricks provider calls
(``/serving-endpoints/chat/completions``, ``/completions``, ``/embeddings``, the endpoint named
by ``model``) with Databricks' ``{"error_code", "message"}`` errors."""

from mlflow.testing.databricks_server import DatabricksServer as DatabricksFake

__all__ = ["DatabricksFake"]
