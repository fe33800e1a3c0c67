"""A fake MLflow model server (``mlflow models serve``): ``POST /invocations`` with
``{"inputs": [...], "params": {...}}`` answering ``{"predictions": [...]}`` (echo texts, or
vectors when ``embeddings=True``); bad input is ``{"error_code": "BAD_REQUEST", "message"}``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mlflow.testing.loopback import json_body, json_response
from mlflow.testing.providers._base import ProviderFake
from mlflow.testing.replies import embedding_of

__all__ = ["MlflowServingFake"]


class MlflowServingFake(ProviderFake):
    def __init__(self, *, embeddings: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("api_key", None)
        super().__init__(**kwargs)
        self.embeddings = embeddings

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/invocations", self._invocations)

    def _not_found(self, request: web.Request) -> web.Response:
        return json_response({"error_code": "ENDPOINT_NOT_FOUND", "message": "Not Found"}, 404)

    async def _invocations(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return json_response({"error_code": "BAD_REQUEST", "message": (
                "Invalid input. The input must be a JSON dictionary with exactly one of the "
                "input fields {'dataframe_split', 'dataframe_records', 'instances', "
                "'inputs'}.")}, 400)
        if self.embeddings:
            return json_response({"predictions": [embedding_of(str(t)) for t in body["inputs"]]})
        return json_response({"predictions": [self._reply_to(str(t)) for t in body["inputs"]]})
