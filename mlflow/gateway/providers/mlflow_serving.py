"""An MLflow model server (``provider: mlflow-model-serving``), as MLflow calls it.

Wire format (MLflow's scoring protocol): ``POST {model_server_url}/invocations`` with
``{"inputs": [...], "params": {...}}``, answering ``{"predictions": [...]}`` (strings for
completions and chat, float vectors for embeddings). Chat sends the single message's content
(MLflow's rule: one message at a time). No streaming upstream; streams are one chunk."""

from __future__ import annotations

from typing import Any

from mlflow.gateway.exceptions import AIGatewayException
from mlflow.gateway.providers.base import CHAT, COMPLETIONS, EMBEDDINGS, BaseProvider
from mlflow.gateway.schemas import shapes


def _texts(predictions: Any) -> list[str]:
    """MLflow accepts a list of strings, or a dict holding one (``choices`` or a single key)."""
    if isinstance(predictions, dict):
        if "choices" in predictions:
            predictions = predictions["choices"]
        elif len(predictions) == 1:
            predictions = next(iter(predictions.values()))
    if not isinstance(predictions, list) or not predictions or not all(
            isinstance(p, str) for p in predictions):
        raise AIGatewayException(
            status_code=502,
            detail="The MLflow model server's 'predictions' is not a non-empty list of strings.",
        )
    return predictions


def _vectors(predictions: Any) -> list[list[float]]:
    if isinstance(predictions, list) and predictions and all(
            isinstance(x, int | float) for x in predictions):
        return [predictions]
    if not isinstance(predictions, list) or not predictions or not all(
            isinstance(v, list) and v and all(isinstance(x, int | float) for x in v)
            for v in predictions):
        raise AIGatewayException(
            status_code=502,
            detail="The MLflow model server's 'predictions' is not a list of float vectors.",
        )
    return predictions


class MlflowModelServingProvider(BaseProvider):
    NAME = "MLflow Model Serving"
    SUPPORTED_ROUTE_TYPES = (CHAT, COMPLETIONS, EMBEDDINGS)
    API_BASE_FIELD = "model_server_url"

    def __init__(self, config, client, policy=None, **kwargs) -> None:
        super().__init__(config, client, policy, **kwargs)
        self._url = f"{self._base_url()}/invocations"

    @staticmethod
    def _body(payload: dict[str, Any], key: str) -> dict[str, Any]:
        params = {k: v for k, v in payload.items() if k not in (key, "stream", "stream_options")}
        data = payload[key]
        body: dict[str, Any] = {"inputs": data if isinstance(data, list) else [data]}
        if params:
            body["params"] = params
        return body

    async def _predictions(self, body: dict[str, Any]) -> Any:
        resp = await self._post_json(self._url, body)
        if not isinstance(resp, dict) or "predictions" not in resp:
            raise AIGatewayException(
                status_code=502, detail="The response is missing the required key: predictions."
            )
        return resp["predictions"]

    async def chat(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = self._body(payload, "messages")
        if (count := len(body["inputs"])) > 1:
            raise AIGatewayException(
                status_code=422,
                detail="MLflow chat models are only capable of processing a single query at a "
                f"time. The request submitted consists of {count} queries.",
            )
        body["inputs"] = [body["inputs"][0].get("content")]
        texts = _texts(await self._predictions(body))
        return shapes.chat_response(
            model=self.model_name,
            choices=[{"index": i, "message": shapes.chat_message(t), "finish_reason": None}
                     for i, t in enumerate(texts)],
            usage_block=shapes.usage(), provider=self.provider_name,
        )

    async def completions(self, payload: dict[str, Any]) -> dict[str, Any]:
        texts = _texts(await self._predictions(self._body(payload, "prompt")))
        return shapes.completions_response(model=self.model_name,
                                           texts=[(t, None) for t in texts],
                                           usage_block=shapes.usage())

    async def embeddings(self, payload: dict[str, Any]) -> dict[str, Any]:
        vectors = _vectors(await self._predictions(self._body(payload, "input")))
        return shapes.embeddings_response(model=self.model_name, vectors=vectors)
