"""The public description of a gateway endpoint, as MLflow's deployments server returns it."""

from __future__ import annotations

from pydantic import ConfigDict

from mlflow.gateway.base_models import ResponseModel
from mlflow.gateway.config import EndpointModelInfo, Limit


class Endpoint(ResponseModel):
    """An endpoint of an MLflow AI Gateway / deployments server: its ``name``, ``endpoint_type``
    (``"llm/v1/chat"``, ...), ``model`` (name and provider, never the provider config), the
    ``endpoint_url`` that serves invocations and its rate ``limit`` (or ``None``).

    Clients build it from server JSON, so unknown fields are ignored and ``limit`` is taken as
    the server reports it (a period the throttle cannot use is rejected by the throttle, not
    here). ``model_dump()`` / ``model_dump_json()`` give MLflow's shape::

        {"name": ..., "endpoint_type": ..., "model": {"name": ..., "provider": ...},
         "endpoint_url": ..., "limit": {"calls": ..., "key": ..., "renewal_period": ...} | None}
    """

    name: str
    endpoint_type: str
    model: EndpointModelInfo
    endpoint_url: str
    limit: Limit | None

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "name": "openai-completions",
                "endpoint_type": "llm/v1/completions",
                "model": {
                    "name": "gpt-4o-mini",
                    "provider": "openai",
                },
                "endpoint_url": "/endpoints/completions/invocations",
                "limit": {"calls": 1, "key": None, "renewal_period": "minute"},
            }
        }
    )


__all__ = ["Endpoint"]
