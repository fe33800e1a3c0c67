"""A fake of MosaicML's hosted inference API as MLflow calls it: ``POST /{model}/v1/predict``
with the key as the whole ``Authorization`` header, ``{"inputs": [...], "parameters": {...}}``
answering ``{"outputs": [...]}`` (texts, or vectors for embedding models); errors as
``{"message": ...}``."""

from __future__ import annotations

from aiohttp import web

from mlflow.testing.loopback import json_body, json_response
from mlflow.testing.providers._base import ProviderFake
from mlflow.testing.replies import embedding_of

__all__ = ["MosaicMLFake"]


class MosaicMLFake(ProviderFake):
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/{model}/v1/predict", self._predict)

    def _not_found(self, request: web.Request) -> web.Response:
        return json_response({"message": "Not Found"}, 404)

    async def _predict(self, request: web.Request) -> web.Response:
        sent = request.headers.get("Authorization")
        if not self._key_ok(sent):
            return json_response({"message": "Unauthorized" + self._rejected_key_text(sent)},
                                 401)
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return json_response({"message": "inputs must be a list"}, 400)
        max_new = (body.get("parameters") or {}).get("max_new_tokens")
        if isinstance(max_new, int) and max_new > 4096:
            return json_response({"message": "Error: max output tokens is limited to 4096"},
                                 500)
        if "embed" in request.match_info["model"]:
            return json_response({"outputs": [embedding_of(str(t)) for t in body["inputs"]]})
        return json_response({"outputs": [self._reply_to(str(t)) for t in body["inputs"]]})
