"""A drop-in, asyncio-first slice of MLflow: ``http_request``, deployments and the AI gateway."""

from mlflow.version import VERSION

__version__ = VERSION

__all__ = ["__version__"]
